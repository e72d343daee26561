// Cancelling a send: the signal and timeout options, and late replies that
// are dropped.
import assert from "node:assert/strict";
import { Channel } from "../../channel/channel.ts";
import { abandonCalls } from "../../channel/_outgoing_calls.ts";
import { ConnectionClosedError } from "../../errors.ts";
import { within } from "../_within.ts";
import { channelPair, rawPair } from "./_channel_helpers.ts";

Deno.test("signal: abort rejects with the reason; a late reply is dropped", async () => {
  const [channel, raw] = rawPair();
  const controller = new AbortController();
  const reason = new Error("changed my mind");
  const reply = channel.send("slow", { signal: controller.signal });
  assert.deepEqual(await raw.read(), [0, 0, "slow"]);
  controller.abort(reason);
  await assert.rejects(reply, (error) => error === reason);
  // The late reply is dropped silently; the connection stays open.
  await raw.send([1, 0, "late"]);
  const next = channel.send("next");
  assert.deepEqual(await raw.read(), [0, 1, "next"]);
  await raw.send([1, 1, "ok"]);
  assert.equal(await next, "ok");
  assert.equal(channel.isClosed, false);
  await channel.close();
  await raw.close();
});

Deno.test("signal: an aborted signal rejects at once and sends nothing", async () => {
  const [channel, raw] = rawPair();
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(
    channel.send("never", { signal: controller.signal }),
    (error) => error instanceof DOMException && error.name === "AbortError",
  );
  const reply = channel.send("sent");
  assert.deepEqual(await raw.read(), [0, 0, "sent"]);
  await raw.send([1, 0, "got it"]);
  assert.equal(await reply, "got it");
  await channel.close();
  await raw.close();
});

Deno.test("signal: a reply before the abort wins and the listener is removed", async () => {
  const [client, server] = channelPair();
  const controller = new AbortController();
  // The abort listeners the call adds to the signal, less those it removes.
  const listening = new Set<unknown>();
  const { signal } = controller;
  type Listen = (type: string, listener: unknown, options?: unknown) => void;
  const spied = signal as unknown as Record<
    "addEventListener" | "removeEventListener",
    Listen
  >;
  const add = spied.addEventListener.bind(signal);
  const remove = spied.removeEventListener.bind(signal);
  spied.addEventListener = (type, listener, options) => {
    if (type === "abort") listening.add(listener);
    add(type, listener, options);
  };
  spied.removeEventListener = (type, listener, options) => {
    if (type === "abort") listening.delete(listener);
    remove(type, listener, options);
  };
  const reply = client.send("fast", { signal, timeout: 60_000 });
  assert.equal(listening.size, 1);
  await (await server.recv()).reply("done");
  assert.equal(await reply, "done");
  assert.equal(listening.size, 0);
  controller.abort(); // No effect any more.
  await client.close();
  await server.closed;
});

Deno.test("timeout: rejects with a TimeoutError; a late reply is dropped", async () => {
  const [channel, raw] = rawPair({ peer: "slowpoke" });
  const reply = channel.send("slow", { timeout: 1 });
  assert.deepEqual(await raw.read(), [0, 0, "slow"]);
  await assert.rejects(reply, (error) => {
    assert.ok(error instanceof DOMException);
    assert.equal(error.name, "TimeoutError");
    assert.match(error.message, /slowpoke/);
    return true;
  });
  await raw.send([2, 0, "ValueError: too late\n"]);
  const next = channel.send("next", { timeout: 60_000 });
  assert.deepEqual(await raw.read(), [0, 1, "next"]);
  await raw.send([1, 1, "in time"]);
  assert.equal(await next, "in time");
  assert.equal(channel.isClosed, false);
  await channel.close();
  await raw.close();
});

Deno.test("timeout: 0 rejects at once with a TimeoutError and sends nothing", async () => {
  const [channel, raw] = rawPair();
  await assert.rejects(channel.send("never", { timeout: 0 }), {
    name: "TimeoutError",
    message: /timed out after 0 ms/,
  });
  // The next frame the peer reads is the next request, with the first id.
  const reply = channel.send("sent");
  assert.deepEqual(await raw.read(), [0, 0, "sent"]);
  await raw.send([1, 0, "got it"]);
  assert.equal(await reply, "got it");
  await channel.close();
  await raw.close();
});

Deno.test("timeout: Infinity, or beyond setTimeout's longest delay, never times out", async () => {
  const [channel, raw] = rawPair();
  const replies = [Infinity, 2 ** 31].map((timeout) =>
    channel.send("no deadline", { timeout })
  );
  assert.deepEqual(await raw.read(), [0, 0, "no deadline"]);
  assert.deepEqual(await raw.read(), [0, 1, "no deadline"]);
  // No event to await: setTimeout fires such delays after about 1 ms, so
  // give it well over that to fail the calls before they are answered.
  await new Promise((resolve) => setTimeout(resolve, 20));
  await raw.send([1, 0, "a"]);
  await raw.send([1, 1, "b"]);
  assert.deepEqual(await Promise.all(replies), ["a", "b"]);
  await channel.close();
  await raw.close();
});

Deno.test("timeout: closing clears the timer of a pending send", async () => {
  const [client, server] = channelPair();
  const reply = client.send("x", { timeout: 60_000 });
  await server.recv();
  await client.close();
  await assert.rejects(reply, ConnectionClosedError);
  await server.closed;
});

Deno.test("timeout: anything but milliseconds from 0 up is refused, and nothing is sent", async () => {
  const [channel, raw] = rawPair();
  for (
    const [timeout, shown] of [
      [NaN, "NaN"],
      [-1, "-1"],
      ["5", '"5"'],
      [null, "null"],
    ] as const
  ) {
    await assert.rejects(
      channel.send("x", { timeout: timeout as number }),
      (error: unknown) => {
        assert.ok(error instanceof RangeError);
        assert.equal(
          error.message,
          `Invalid timeout ${shown}: expected milliseconds, 0 or more`,
        );
        return true;
      },
    );
  }
  // The first request the peer sees is the next valid one, with id 0.
  const reply = channel.send("ok", { timeout: 60_000 });
  assert.deepEqual(await raw.read(), [0, 0, "ok"]);
  await raw.send([1, 0, "fine"]);
  assert.equal(await reply, "fine");
  await channel.close();
  await raw.close();
});

Deno.test("abandonCalls: the calls waiting for a reply and those waiting for the socket reject; the channel stays open", async () => {
  // A socket that never takes a write: the first call fills it, the
  // others wait before they are sent.
  const transport = {
    readable: new ReadableStream<Uint8Array>(),
    writable: new WritableStream<Uint8Array>({
      write: () => new Promise<void>(() => {}),
    }),
  };
  const channel = new Channel(transport, { highWaterMark: 1024 });
  const calls = Array.from(
    { length: 5 },
    () => channel.send("x".repeat(4096)),
  );
  const reason = new ConnectionClosedError("abandoned");
  abandonCalls(channel, reason);
  for (const call of calls) await assert.rejects(call, (e) => e === reason);
  assert.equal(channel.isClosed, false);
  await channel.close({ timeout: 10 });
});

Deno.test("recv: a signal stops the wait, and the next request stays for the next recv", async () => {
  const [client, server] = channelPair();
  const reason = new Error("stopped waiting");
  const controller = new AbortController();
  const gaveUp = server.recv({ signal: controller.signal });
  controller.abort(reason);
  await within(
    5_000,
    "the aborted recv",
    assert.rejects(gaveUp, (error) => error === reason),
  );
  // Already aborted: rejects at once, and takes nothing, not even a
  // request that is waiting.
  await assert.rejects(
    server.recv({ signal: AbortSignal.abort(reason) }),
    (error) => error === reason,
  );
  const queued = client.send("queued");
  // The client's answer to a ping comes after its request: once it is
  // here, the request is queued.
  const pong = server.send("ping");
  await (await client.recv()).reply("pong");
  assert.equal(await pong, "pong");
  assert.equal(server.stats.requestsQueued, 1);
  await assert.rejects(
    server.recv({ signal: AbortSignal.abort(reason) }),
    (error) => error === reason,
  );
  const taken = await server.recv();
  assert.equal(taken.content, "queued");
  await taken.reply("taken");
  assert.equal(await queued, "taken");
  // The request that comes now goes to the recv that still waits.
  const waiting = server.recv();
  const reply = client.send("kept");
  const request = await waiting;
  assert.equal(request.content, "kept");
  await request.reply("ok");
  assert.equal(await reply, "ok");
  // A signal that does not abort changes nothing; it is let go of after.
  const controller2 = new AbortController();
  const next = server.recv({ signal: controller2.signal });
  const reply2 = client.send(2);
  await (await next).reply(3);
  assert.equal(await reply2, 3);
  controller2.abort();
  await client.close();
  await server.close();
});

Deno.test("recv: after many waits given up on a quiet channel, the next request goes to the recv that waits", async () => {
  const [client, server] = channelPair();
  // Many given up (the queue is compacted as they pile up), one waiting.
  for (let i = 0; i < 1000; i++) {
    const controller = new AbortController();
    const recv = server.recv({ signal: controller.signal });
    controller.abort();
    await recv.catch(() => {});
  }
  const waiting = server.recv();
  const reply = client.send("after 1000 polls");
  const request = await waiting;
  assert.equal(request.content, "after 1000 polls");
  await request.reply(1);
  assert.equal(await reply, 1);
  await client.close();
  await server.close();
});
