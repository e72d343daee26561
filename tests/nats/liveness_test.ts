import assert from "node:assert/strict";
import { ConnectionClosedError } from "../../errors.ts";
import { connectNats } from "../../nats/mod.ts";
import { NatsServer } from "./_server.ts";

const SERVE = new URL("./_serve_process.ts", import.meta.url);

/** Starts the serving script and waits for its "ready". */
async function startServing(
  url: string,
  subject: string,
): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-lock", "-A", SERVE.href, url, subject],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  reader.releaseLock();
  if (!text.includes("ready")) {
    await child.status;
    throw new Error(`The serving process did not start: ${text}`);
  }
  return child;
}

Deno.test("a peer process killed with SIGKILL: pending calls reject with ConnectionClosedError within 2 s", async () => {
  await using server = await NatsServer.start();
  const child = await startServing(server.url, "doomed");
  try {
    await using client = await connectNats<
      { echo(v: string): string; hang(): void }
    >("doomed", { nats: { servers: server.url } });
    assert.equal(await client.remote.echo("hi"), "hi");
    const pending = client.remote.hang();
    pending.catch(() => {});
    const started = performance.now();
    child.kill("SIGKILL");
    await assert.rejects(pending, (error: Error) => {
      assert.ok(error instanceof ConnectionClosedError, String(error));
      assert.match(error.message, /gone|did not answer/);
      return true;
    });
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 2000, `took ${elapsed} ms`);
    // Nobody serves the subject any more: the next call says so at once.
    await assert.rejects(client.remote.echo("again"), /no responders/);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Killed already.
    }
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
});
