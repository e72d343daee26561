import assert from "node:assert/strict";
import { ConnectionClosedError } from "../../errors.ts";
import { connectNats, serveNats } from "../../nats/mod.ts";
import { ServiceDict } from "../../rpc/service_dict.ts";
import { within } from "../_within.ts";
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

Deno.test("the NATS server gone for good: pending calls reject after `timeout`, naming the server, even with endless reconnects", async () => {
  const server = await NatsServer.start();
  try {
    const accepted = Promise.withResolvers<void>();
    const nats = { servers: server.url, maxReconnectAttempts: -1 };
    await using _served = await serveNats(
      new ServiceDict({
        hold: () => {
          accepted.resolve();
          return new Promise(() => {});
        },
      }),
      { nats, subject: "held", timeout: 1000 },
    );
    await using client = await connectNats<{ hold(): Promise<void> }>(
      "held",
      { nats, timeout: 1000 },
    );
    const call = client.remote.hold();
    call.catch(() => {});
    await accepted.promise;
    await server.stop();
    await within(
      10_000,
      "the pending call",
      assert.rejects(call, (error: unknown) => {
        assert.ok(error instanceof ConnectionClosedError, String(error));
        assert.match(
          error.message,
          new RegExp(
            `The NATS connection \\(server 127\\.0\\.0\\.1:${server.port}\\) has been down for 1000 ms`,
          ),
        );
        return true;
      }),
    );
  } finally {
    await server.stop();
  }
});
