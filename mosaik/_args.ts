import { parseAddress } from "../channel/address.ts";

/** A log level of `-l/--log-level`, as mosaik-api-python's. */
export type LogLevel =
  | "trace"
  | "debug"
  | "info"
  | "warning"
  | "error"
  | "critical";

/** The levels of `-l/--log-level`, least severe first. */
export const LOG_LEVELS: readonly LogLevel[] = [
  "trace",
  "debug",
  "info",
  "warning",
  "error",
  "critical",
];

/** What the command line asks for. */
export interface SimulationArgs {
  /** `"cmd"`: connect to mosaik; `"connect"` (`-r`): listen for mosaik. */
  mode: "cmd" | "connect";
  hostname: string;
  port: number;
  logLevel: LogLevel;
  /** Milliseconds to wait for the connection (`-t` is in seconds). */
  timeout: number;
  help: boolean;
}

/** A command line that cannot be understood; the message says why. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The help text, as mosaik-api-python's. */
export function usage(program: string): string {
  return `Starts a mosaik simulator.

Usage:
    ${program} [options] HOST:PORT

Options:
    HOST:PORT   Connect to mosaik at this address (mosaik's %(addr)s)
    -r, --remote
                Listen on HOST:PORT for mosaik to connect instead
                (mosaik's "connect" start mode; port 0 picks a free one)
    -l LEVEL, --log-level LEVEL
                Log level (${LOG_LEVELS.join(", ")}) [default: info]
    -t TIME, --timeout TIME
                Seconds to wait for the connection to mosaik [default: 60]
    -h, --help  Show this help
`;
}

/**
 * Parses mosaik-api-python's command line: `[options] HOST:PORT` with
 * `-r/--remote`, `-l/--log-level LEVEL`, `-t/--timeout SECONDS`; options
 * may come before or after the address, values as `-l debug`, `-ldebug`,
 * `--log-level debug` or `--log-level=debug`. `--remote=HOST:PORT` is
 * accepted too.
 */
export function parseSimulationArgs(args: readonly string[]): SimulationArgs {
  let remote = false;
  let address: string | undefined;
  let logLevel: LogLevel = "info";
  let seconds = 60;
  let help = false;
  const setAddress = (value: string) => {
    if (address !== undefined) {
      throw new UsageError(
        `Expected one HOST:PORT, got "${address}" and "${value}"`,
      );
    }
    address = value;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    let key = arg;
    let inline: string | undefined;
    if (arg.startsWith("--") && arg.includes("=")) {
      key = arg.slice(0, arg.indexOf("="));
      inline = arg.slice(key.length + 1);
    } else if (/^-[lt]./.test(arg)) {
      key = arg.slice(0, 2);
      inline = arg.slice(2);
    }
    const value = (): string => {
      if (inline !== undefined) return inline;
      if (i + 1 >= args.length) {
        throw new UsageError(`Option ${key} needs a value`);
      }
      return args[++i];
    };
    switch (key) {
      case "-h":
      case "--help":
        if (inline !== undefined) throw new UsageError(`${key} takes no value`);
        help = true;
        break;
      case "-r":
      case "--remote":
        remote = true;
        if (inline !== undefined) setAddress(inline);
        break;
      case "-l":
      case "--log-level": {
        const level = value().toLowerCase();
        if (!(LOG_LEVELS as readonly string[]).includes(level)) {
          throw new UsageError(
            `Unknown log level "${level}" (expected ${LOG_LEVELS.join(", ")})`,
          );
        }
        logLevel = level as LogLevel;
        break;
      }
      case "-t":
      case "--timeout": {
        const text = value();
        seconds = Number(text);
        if (text.trim() === "" || !(seconds >= 0)) {
          throw new UsageError(
            `Timeout must be a number of seconds >= 0, not "${text}"`,
          );
        }
        break;
      }
      default:
        if (arg.startsWith("-") && arg !== "-") {
          throw new UsageError(`Unknown option ${key}`);
        }
        setAddress(arg);
    }
  }
  if (help) {
    return { mode: "cmd", hostname: "", port: 0, logLevel, timeout: 0, help };
  }
  if (address === undefined) throw new UsageError("Missing HOST:PORT");
  let parsed: ReturnType<typeof parseAddress>;
  try {
    parsed = parseAddress(address);
  } catch {
    throw new UsageError(`Cannot parse "${address}" as HOST:PORT`);
  }
  if (parsed.transport !== "tcp") {
    throw new UsageError(`Cannot parse "${address}" as HOST:PORT`);
  }
  return {
    mode: remote ? "connect" : "cmd",
    hostname: parsed.hostname,
    port: parsed.port,
    logLevel,
    timeout: seconds * 1000,
    help,
  };
}
