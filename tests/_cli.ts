// Running cli.ts in a subprocess for the CLI tests.
import { fileURLToPath } from "node:url";

export const LOCAL = { hostname: "127.0.0.1", port: 0 };
export const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));
export const AGENTS_URL = new URL(
  "./fixtures/agents/agents.ts",
  import.meta.url,
);
export const spec = (name: string) => `${AGENTS_URL.href}#${name}`;

export function readTls(name: string): string {
  return Deno.readTextFileSync(
    fileURLToPath(new URL(`./fixtures/tls-agent/${name}`, import.meta.url)),
  );
}

// Calls `spawn` through a manager proxy, as the manager tests do.
export { spawn } from "./agent/_manager_fixtures.ts";

export interface Finished {
  status: Deno.CommandStatus;
  /** Standard output after the ready line. */
  stdout: string;
  stderr: string;
}

/** `cli.ts` running in a subprocess; disposing kills it if it still runs. */
export interface Cli extends AsyncDisposable {
  child: Deno.ChildProcess;
  ready: { addr: string; manager: string; serializers?: string[] };
  /** Waits for the exit and collects the rest of the output. */
  finish(): Promise<Finished>;
}

/**
 * Runs `deno run --allow-net --allow-read ...flags cli.ts ...args` and
 * reads its first line.
 */
export function runCli(args: string[], flags: string[] = [], cwd?: string): {
  child: Deno.ChildProcess;
  firstLine: Promise<string | null>;
  finish(): Promise<Finished>;
} {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", ...flags, CLI, ...args],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let buffered = "";
  const firstLine = (async () => {
    for (;;) {
      const newline = buffered.indexOf("\n");
      if (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        return line;
      }
      const { value, done } = await reader.read();
      if (done) return null;
      buffered += value;
    }
  })();
  let finished: Promise<Finished> | undefined;
  const finish = () =>
    finished ??= (async () => {
      await firstLine;
      let stdout = buffered;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        stdout += value;
      }
      return { status: await child.status, stdout, stderr: await stderr };
    })();
  return { child, firstLine, finish };
}

/** Starts `cli.ts` and waits for its ready line. */
export async function startCli(
  args: string[],
  flags: string[] = [],
): Promise<Cli> {
  const { child, firstLine, finish } = runCli(args, flags);
  const kill = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // It has exited already.
    }
    return await finish();
  };
  const line = await firstLine;
  if (line === null) {
    const { status, stderr } = await finish();
    throw new Error(`cli.ts exited (${status.code}) early: ${stderr}`);
  }
  let ready;
  try {
    ready = JSON.parse(line);
  } catch (error) {
    await kill();
    throw error;
  }
  return { child, ready, finish, [Symbol.asyncDispose]: () => kill().then() };
}
