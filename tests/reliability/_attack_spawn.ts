// The server under attack for `deno task attack`: _attack_server.ts in a
// subprocess, its port, its exit and the tail of its stderr.
import type { CodecName } from "./_attack_wire.ts";

/** A server under attack: its process, port and the tail of its stderr. */
export interface ServerProcess {
  pid: number;
  port: number;
  exited: Promise<Deno.CommandStatus>;
  /** Whether it has exited (before we killed it, if asked before kill()). */
  hasExited(): boolean;
  stderrTail(): string;
  kill(): Promise<void>;
}

const SERVER = new URL("./_attack_server.ts", import.meta.url);
const ROOT = new URL("../../", import.meta.url);

/** Starts the server with the soft open-file limit raised to the hard one. */
export async function startServer(codec: CodecName): Promise<ServerProcess> {
  const child = new Deno.Command("bash", {
    args: [
      "-c",
      'ulimit -n "$(ulimit -Hn)"; exec "$@"',
      "bash",
      Deno.execPath(),
      "run",
      "--allow-net=127.0.0.1",
      "--v8-flags=--expose-gc",
      SERVER.pathname,
      codec,
    ],
    cwd: ROOT.pathname,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let exitedNow = false;
  const exited = child.status.then((status) => {
    exitedNow = true;
    return status;
  });
  let tail = "";
  const stderr = child.stderr.pipeThrough(new TextDecoderStream())
    .pipeTo(
      new WritableStream({
        write(chunk) {
          tail = (tail + chunk).slice(-4096);
        },
      }),
    ).catch(() => {});
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  const kill = async () => {
    if (!exitedNow) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await exited;
    await lines.cancel().catch(() => {});
    await stderr;
  };
  const timeout = setTimeout(() => kill(), 60_000);
  try {
    while (!out.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`the server exited before listening:\n${tail}`);
      out += value;
    }
  } catch (error) {
    await kill();
    throw error;
  } finally {
    clearTimeout(timeout);
  }
  // Keep draining stdout so that the server never blocks on it.
  (async () => {
    while (!(await lines.read()).done) { /* discard */ }
  })().catch(() => {});
  const { port } = JSON.parse(out.slice(0, out.indexOf("\n")));
  return {
    pid: child.pid,
    port,
    exited,
    hasExited: () => exitedNow,
    stderrTail: () => tail,
    kill,
  };
}
