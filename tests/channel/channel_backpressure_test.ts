// Backpressure: a channel stops reading while its request queue is full,
// and sends wait for a stalled transport.
import assert from "node:assert/strict";
import {
  Channel,
  createMemoryPair,
  FrameDecoderStream,
  FrameEncoderStream,
  type TraceContextCarrier,
  type Transport,
} from "../../channel/mod.ts";
import { ConnectionClosedError } from "../../errors.ts";
import { within } from "../_within.ts";
import {
  assertOtherPairWorks,
  channelPair,
  serve,
} from "./_channel_helpers.ts";

/**
 * Wraps a transport so that the channel reads one frame per chunk, and
 * counts the chunks it reads.
 */
function countingReads(transport: Transport): {
  transport: Transport;
  reads: () => number;
  reached: (n: number) => Promise<void>;
} {
  const frames = transport.readable
    .pipeThrough(new FrameDecoderStream())
    .pipeThrough(new FrameEncoderStream())
    .getReader();
  let reads = 0;
  const waiting = new Map<number, PromiseWithResolvers<void>>();
  const readable = new ReadableStream<Uint8Array>({
    async pull(controller) {
      reads++;
      waiting.get(reads)?.resolve();
      const { value, done } = await frames.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => frames.cancel(reason),
  }, { highWaterMark: 0 });
  return {
    transport: { readable, writable: transport.writable },
    reads: () => reads,
    reached: (n) => {
      if (reads >= n) return Promise.resolve();
      const waiter = Promise.withResolvers<void>();
      waiting.set(n, waiter);
      return waiter.promise;
    },
  };
}

Deno.test("backpressure: queued requests are kept until recv() takes them", async () => {
  const [a, b] = createMemoryPair();
  const counted = countingReads(b);
  const maxQueuedRequests = 8;
  const client = new Channel(a);
  const server = new Channel(counted.transport, { maxQueuedRequests });
  const count = 2000;
  const replies = Array.from({ length: count }, (_, i) => client.send(i));
  // The server reads the first requests without anyone calling recv()...
  await counted.reached(maxQueuedRequests);
  // ...then stops: round trips elsewhere, many reads long, do not make it read on.
  for (let i = 0; i < 5; i++) await assertOtherPairWorks();
  assert.ok(
    counted.reads() <= maxQueuedRequests + 1,
    `the server read ${counted.reads()} frames with ${maxQueuedRequests} allowed in its queue`,
  );
  for (let i = 0; i < count; i++) {
    const request = await server.recv();
    assert.equal(request.content, i);
    await request.reply(i * 2);
  }
  const results = await Promise.all(replies);
  assert.deepEqual(results, Array.from({ length: count }, (_, i) => i * 2));
  await client.close();
  await server.closed;
});

Deno.test("backpressure: for await drains a full queue", async () => {
  const [client, server] = channelPair({}, { maxQueuedRequests: 2 });
  const replies = Array.from({ length: 500 }, (_, i) => client.send(i));
  const served = serve(server, (content) => (content as number) + 1);
  assert.deepEqual(
    await Promise.all(replies),
    Array.from({ length: 500 }, (_, i) => i + 1),
  );
  await client.close();
  await served;
});

Deno.test("backpressure: a send waiting for the socket honours its timeout and signal", async () => {
  const [a, b] = createMemoryPair();
  // The peer does not read, so writes stall and the tiny queue fills.
  const channel = new Channel(a, { highWaterMark: 16 });
  channel.send("x".repeat(64)).catch(() => {});
  channel.send("y".repeat(64)).catch(() => {});
  await assert.rejects(channel.send("late", { timeout: 20 }), {
    name: "TimeoutError",
  });
  const controller = new AbortController();
  const aborted = channel.send("aborted", { signal: controller.signal });
  const reason = new Error("no longer needed");
  controller.abort(reason);
  await assert.rejects(aborted, (error) => error === reason);
  // A waiting send without cancellation settles when the channel closes.
  const waiting = channel.send("waiting");
  const closed = channel.close({ timeout: 0 });
  await assert.rejects(waiting, ConnectionClosedError);
  await closed;
  // The stuck frames were not delivered: the peer sees the connection reset.
  await assert.rejects(b.readable.getReader().read(), { name: "NetworkError" });
});

Deno.test("close({ timeout }) beyond setTimeout's range (about 24.8 days) waits for stuck frames rather than cutting them", async () => {
  const [a, b] = createMemoryPair();
  // The peer does not read yet, so the frames stay queued.
  const channel = new Channel(a, { highWaterMark: 16 });
  channel.send("x".repeat(64)).catch(() => {});
  const closing = channel.close({ timeout: 30 * 24 * 3600 * 1000 });
  // No event to await: setTimeout fires such delays after about 1 ms, so
  // give it well over that to cut the frames.
  await new Promise((resolve) => setTimeout(resolve, 20));
  // Now the peer reads: the frame arrives whole, then the end.
  const frames = b.readable.pipeThrough(new FrameDecoderStream()).getReader();
  const first = await frames.read();
  assert.equal(first.done, false);
  assert.match(new TextDecoder().decode(first.value), /^\[0, ?0, ?"x{64}"\]$/);
  await closing;
  assert.equal((await frames.read()).done, true);
  await b.writable.close().catch(() => {});
});

Deno.test("backpressure: close rejects a send waiting for the socket at once, not when the graceful close ends", async () => {
  const [a, b] = createMemoryPair();
  const channel = new Channel(a, { highWaterMark: 16 });
  channel.send("x".repeat(64)).catch(() => {});
  const waiting = channel.send("waiting");
  // The peer reads nothing: the close waits for the stuck frame, up to a
  // minute; the waiting send must not.
  let closeEnded = false;
  const closed = channel.close({ timeout: 60_000 }).then(() => {
    closeEnded = true;
  });
  await within(
    10_000,
    "the waiting send",
    assert.rejects(waiting, ConnectionClosedError),
  );
  assert.equal(closeEnded, false);
  await b.readable.cancel();
  await closed;
});

Deno.test("backpressure: sends waiting for the socket are written in the order they were made, each once", async () => {
  const [client, server] = channelPair({ highWaterMark: 64 });
  const count = 3000;
  const payload = "p".repeat(100);
  const replies = Array.from(
    { length: count },
    (_, i) => client.send([i, payload]),
  );
  const order: number[] = [];
  const served = serve(server, (content) => {
    order.push((content as [number, string])[0]);
    return (content as [number, string])[0];
  });
  assert.deepEqual(
    await Promise.all(replies),
    Array.from({ length: count }, (_, i) => i),
  );
  assert.deepEqual(order, Array.from({ length: count }, (_, i) => i));
  await client.close();
  await served;
});

Deno.test("backpressure: a send that waited rejects with what its write threw (a transport's carrier)", async () => {
  const [a, b] = createMemoryPair();
  let calls = 0;
  const carrier: TraceContextCarrier = {
    outgoing() {
      if (++calls === 2) throw new Error("carrier boom");
    },
    incoming: () => undefined,
  };
  const channel = new Channel({ ...a, traceContext: carrier }, {
    highWaterMark: 16,
  });
  const server = new Channel(b);
  const traceContext = {
    traceparent: "00-" + "1".repeat(32) + "-" + "2".repeat(16) + "-01",
  };
  const first = channel.send("x".repeat(64), { traceContext });
  const queued = channel.send("y", { traceContext });
  const served = serve(server, (content) => content);
  assert.equal(await first, "x".repeat(64));
  await within(
    10_000,
    "the queued send",
    assert.rejects(queued, /carrier boom/),
  );
  // The channel goes on.
  assert.equal(await channel.send("z"), "z");
  await channel.close();
  await served;
});
