// Command-line options of the benchmark scripts: node:util's parseArgs with
// strict: true, so a mistyped option stops the run with the list of valid
// ones instead of being silently ignored, and --help for every script.
import { parseArgs } from "node:util";

/** One option: its type and the line `--help` prints for it. */
export interface OptionSpec {
  type: "boolean" | "string" | "number";
  /** Shown after the option name in `--help`, e.g. "=N". */
  arg?: string;
  help: string;
}

/** The parsed value of an option spec (undefined when not given). */
export type OptionValue<S extends OptionSpec> = S["type"] extends "boolean"
  ? boolean
  : S["type"] extends "number" ? number | undefined
  : string | undefined;

/** Parsed options, by name. */
export type Options<T extends Record<string, OptionSpec>> = {
  [K in keyof T]: OptionValue<T[K]>;
};

/** The `--help` text: the usage paragraph, then one line per option. */
export function helpText(
  usage: string,
  spec: Record<string, OptionSpec>,
): string {
  const lines = Object.entries(spec).map(([name, option]) => [
    `  --${name}${option.arg ?? (option.type === "boolean" ? "" : "=VALUE")}`,
    option.help,
  ]);
  const width = Math.max(...lines.map(([left]) => left.length)) + 2;
  return `${usage.trim()}\n\nOptions:\n${
    lines.map(([left, help]) => left.padEnd(width) + help).join("\n")
  }\n  --help${" ".repeat(Math.max(2, width - 8))}this text\n`;
}

/**
 * Parses `args` against `spec`. Prints the help and exits 0 on `--help`;
 * prints what is wrong and the valid options and exits 2 on an unknown
 * option, a missing value, a positional argument or a number that is not
 * positive.
 */
export function parseOptions<T extends Record<string, OptionSpec>>(
  usage: string,
  spec: T,
  args: string[] = Deno.args,
): Options<T> {
  const config: Record<string, { type: "boolean" | "string" }> = {
    help: { type: "boolean" },
  };
  for (const [name, option] of Object.entries(spec)) {
    config[name] = { type: option.type === "boolean" ? "boolean" : "string" };
  }
  const fail = (message: string): never => {
    console.error(
      `${message}\nvalid options: ${
        [...Object.keys(spec), "help"].map((name) => `--${name}`).join(", ")
      }\n(--help for details)`,
    );
    Deno.exit(2);
  };
  let values: Record<string, string | boolean | undefined> = {};
  try {
    ({ values } = parseArgs({
      args,
      options: config,
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  if (values.help) {
    console.log(helpText(usage, spec));
    Deno.exit(0);
  }
  const result: Record<string, unknown> = {};
  for (const [name, option] of Object.entries(spec)) {
    const value = values[name];
    if (option.type === "number" && value !== undefined) {
      const n = Number(value);
      if (!Number.isFinite(n) || n <= 0) {
        fail(`--${name} must be a positive number, got "${value}"`);
      }
      result[name] = n;
    } else if (option.type === "boolean") {
      result[name] = value === true;
    } else {
      result[name] = value;
    }
  }
  return result as Options<T>;
}
