// Command-line options shared by the benchmark scripts.

/** `--name` or `--name=value`: "" or the value, undefined if absent. */
export function option(name: string): string | undefined {
  const prefix = `--${name}=`;
  const found = Deno.args.find((a) =>
    a === `--${name}` || a.startsWith(prefix)
  );
  if (found === undefined) return undefined;
  return found.startsWith(prefix) ? found.slice(prefix.length) : "";
}

/** A positive number option, or `fallback`. */
export function numberOption(name: string, fallback: number): number {
  const value = option(name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    throw new TypeError(`--${name} must be a positive number, got "${value}"`);
  }
  return n;
}
