// A channel that stopped reading (its requests unanswered, or the process at
// its budget) still notices its peer leaving: the handlers of the peer's
// requests are aborted rather than kept, with what they hold, until they
// answer.
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import {
  Channel,
  createMemoryPair,
  type Request,
  setUnansweredBudget,
  type Transport,
  unansweredBudget,
} from "../../channel/mod.ts";
import { JsonCodec, MsgPackCodec } from "../../codecs/mod.ts";
import { ConnectionClosedError } from "../../errors.ts";
import { within } from "../_within.ts";
import { concat, frame, textFrame } from "../_frames.ts";
import { collectGarbage } from "../_collect.ts";
import { connLike, readingTransport } from "./_conn_like.ts";
import { TRANSPORTS } from "./_pairs.ts";

/** Settles when `signal` aborts, with its reason. */
function aborted(signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(signal.reason);
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(signal.reason), {
      once: true,
    })
  );
}

/** Takes `count` requests of `server`, leaving them unanswered. */
async function take(server: Channel, count: number): Promise<Request[]> {
  const taken: Request[] = [];
  for (let i = 0; i < count; i++) taken.push(await server.recv());
  return taken;
}

/** Waits until every request's handler is told its caller is gone. */
async function assertAborted(taken: Request[]): Promise<void> {
  const reasons = await within(
    10_000,
    "the aborts of the requests of a peer that left",
    Promise.all(taken.map((request) => aborted(request.signal))),
  );
  for (const reason of reasons) {
    assert.ok(reason instanceof ConnectionClosedError, String(reason));
  }
}

for (const [name, make] of Object.entries(TRANSPORTS)) {
  Deno.test(`${name}: a peer that leaves with maxConcurrentRequests unanswered is noticed; their handlers are aborted`, async () => {
    await using pair = await make(JsonCodec);
    pair.server.maxConcurrentRequests = 2;
    // The third stays unread: the server stops reading at two.
    const calls = [0, 1, 2].map((i) => pair.client.send(i).catch(() => {}));
    const taken = await take(pair.server, 2);
    await pair.client.close({ timeout: 0 });
    await Promise.all(calls);
    await assertAborted(taken);
    await within(10_000, "the server's close", pair.server.closed);
  });
}

Deno.test("a peer that leaves with maxUnansweredSize spent is noticed", async () => {
  const [a, b] = createMemoryPair();
  const client = new Channel(connLike(a), { codec: new JsonCodec() });
  const server = new Channel(connLike(b), {
    codec: new JsonCodec(),
    maxUnansweredSize: 100_000,
  });
  try {
    // Charged about their 60 000 bytes each: the second reaches the limit.
    const big = "x".repeat(60_000);
    const calls = [0, 1].map(() => client.send(big).catch(() => {}));
    const taken = await take(server, 2);
    await client.close({ timeout: 0 });
    await Promise.all(calls);
    await assertAborted(taken);
    await within(10_000, "the server's close", server.closed);
  } finally {
    await client.close();
    await server.close();
  }
});

/**
 * Spends the process-wide unanswered budget (set to 400 000 units above
 * what is held) with two requests of a pair of its own, unanswered until
 * `free`, which also restores the budget and closes the pair.
 */
async function spendBudget(): Promise<{ free(): Promise<void> }> {
  const before = unansweredBudget().held;
  const previous = setUnansweredBudget(before + 400_000);
  const [a, b] = createMemoryPair();
  const client = new Channel(a, { codec: new MsgPackCodec() });
  const server = new Channel(b, { codec: new MsgPackCodec() });
  // Two requests of 1000 empty bins (about 256 Ki units each) reach it.
  const bins = Array.from({ length: 1000 }, () => new Uint8Array(0));
  const spending = [0, 1].map(() => client.send(bins).catch(() => {}));
  const spent = await take(server, 2);
  assert.ok(unansweredBudget().held - before >= 400_000);
  return {
    async free() {
      for (const request of spent) await request.reply(null);
      await Promise.all(spending);
      setUnansweredBudget(previous);
      await client.close();
      await server.close();
    },
  };
}

Deno.test("a peer that leaves while the process-wide budget stops its channel reading is noticed", async () => {
  const [c, d] = createMemoryPair();
  const second = new Channel(connLike(c), { codec: new MsgPackCodec() });
  const secondServer = new Channel(connLike(d), { codec: new MsgPackCodec() });
  const budget = await spendBudget();
  try {
    // The second server reads this request's bytes, but does not take it.
    const waiting = second.send("small").catch(() => {});
    const untaken = assert.rejects(secondServer.recv(), ConnectionClosedError);
    await second.close({ timeout: 0 });
    await waiting;
    await within(10_000, "the second server's close", secondServer.closed);
    await untaken;
  } finally {
    await budget.free();
    await second.close();
    await secondServer.close();
  }
});

/** Lets the channels run for a while (they would read meanwhile if they could). */
async function turns(count = 20): Promise<void> {
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** One chunk of frames of JSON `values`. */
function chunkOf(values: unknown[]): Uint8Array {
  return concat(values.map((value) => textFrame(JSON.stringify(value))));
}

Deno.test("a reply that came with the request that stopped reading still settles our call when the peer leaves", async () => {
  const [raw, b] = createMemoryPair();
  const server = new Channel(b, {
    codec: new JsonCodec(),
    maxConcurrentRequests: 1,
  });
  const reader = raw.readable.getReader();
  const writer = raw.writable.getWriter();
  try {
    const call = server.send("question");
    const { value } = await reader.read();
    const id = JSON.parse(new TextDecoder().decode(value!.subarray(4)))[1];
    // A request (which stops reading at maxConcurrentRequests 1) and the
    // reply to our call, in one chunk; then the peer leaves.
    await writer.write(chunkOf([[0, 7, "peer's"], [1, id, "answer"]]));
    await writer.close();
    const request = await server.recv();
    assert.equal(await within(10_000, "our call", call), "answer");
    await assertAborted([request]);
    await within(10_000, "the server's close", server.closed);
  } finally {
    await server.close();
    await reader.cancel();
  }
});

Deno.test("the bytes read before a wait for the process-wide budget are handled when the peer leaves during it", async () => {
  const [raw, d] = createMemoryPair();
  const server = new Channel(connLike(d), { codec: new MsgPackCodec() });
  const writer = raw.writable.getWriter();
  let budget: { free(): Promise<void> } | undefined;
  try {
    // A request [0, 1, "small"], its first 6 bytes now (a partial frame).
    const whole = frame(new MsgPackCodec().encode([0, 1, "small"]));
    await writer.write(whole.subarray(0, 6));
    await turns();
    budget = await spendBudget();
    // The rest of the frame is read, then waits for the budget; the peer
    // leaves meanwhile, having sent whole frames only: a clean end.
    await writer.write(whole.subarray(6));
    await writer.close();
    await within(10_000, "the server's close", server.closed);
  } finally {
    await budget?.free();
    await server.close();
  }
});

Deno.test("short waits (backpressure) do not make a channel read in small pieces", async () => {
  const count = 40_000;
  const all = chunkOf(Array.from({ length: count }, (_, i) => [0, i, i]));
  let offset = 0;
  let reads = 0;
  const done = Promise.withResolvers<null>();
  const transport = readingTransport(async (buffer) => {
    reads++;
    if (offset >= all.length) return done.promise;
    await null;
    const n = Math.min(buffer.length, all.length - offset);
    buffer.set(all.subarray(offset, offset + n));
    offset += n;
    return n;
  }, () => done.resolve(null));
  const server = new Channel(transport, {
    codec: new JsonCodec(),
    maxQueuedRequests: 64,
  });
  let taken = 0;
  for await (const request of server) {
    request.reply(null);
    if (++taken === count) break;
  }
  await server.close({ timeout: 0 });
  // 460 KB in reads of 64 KiB; a small read per wait would take hundreds.
  assert.ok(reads < 100, `${reads} reads`);
});

Deno.test("waits hold nothing per request while the peer stays quiet", async () => {
  const count = 50_000;
  const chunk = chunkOf(Array.from({ length: count }, (_, i) => [0, i, i]));
  const quiet = Promise.withResolvers<void>();
  const transport = {
    readable: new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(chunk);
      },
      // The peer stays, quiet, until the end of the test.
      pull: () => quiet.promise,
    }),
    writable: new WritableStream<Uint8Array>(),
  };
  const server = new Channel(transport, { codec: new JsonCodec() });
  try {
    await collectGarbage();
    const before = Deno.memoryUsage().heapUsed;
    let taken = 0;
    for await (const request of server) {
      request.reply(null);
      if (++taken === count) break;
    }
    await turns();
    await collectGarbage();
    const held = Deno.memoryUsage().heapUsed - before;
    // A reaction per wait kept until the peer writes again held 14 MB.
    assert.ok(held < 4 * 1024 * 1024, `${held} bytes held`);
  } finally {
    quiet.resolve();
    await server.close({ timeout: 0 });
  }
});

Deno.test("a peer that half-closes and reads nothing is noticed while reading waits for the socket", async () => {
  const chunks = [
    chunkOf([[0, 0, "hold"], [0, 1, "big"]]),
    chunkOf([[0, 2, "more"]]),
  ];
  let reads = 0;
  const writing = Promise.withResolvers<void>();
  const closed = Promise.withResolvers<null>();
  const transport: Transport = {
    get readable(): ReadableStream<Uint8Array> {
      throw new Error("not used");
    },
    get writable(): WritableStream<Uint8Array> {
      throw new Error("not used");
    },
    // Two requests; a third once the reply to the second is being
    // written; then the end of the peer's stream (it half-closed).
    async read(buffer) {
      const chunk = chunks[reads++];
      if (chunk === undefined) return null;
      if (reads === 2) await writing.promise;
      buffer.set(chunk);
      return chunk.length;
    },
    // The peer reads nothing: no write ever completes.
    write: () => {
      writing.resolve();
      return closed.promise.then(() => Promise.reject(new Error("closed")));
    },
    close: () => closed.resolve(null),
  };
  const server = new Channel(transport, {
    codec: new JsonCodec(),
    writeTimeout: Infinity,
  });
  const held = Promise.withResolvers<Request>();
  const serving = (async () => {
    for await (const request of server) {
      if (request.content === "hold") held.resolve(request);
      if (request.content === "big") {
        request.reply("x".repeat(2 * 1024 * 1024)).catch(() => {});
      }
    }
  })().catch(() => {});
  try {
    // With "hold" and "more" unanswered and the 2 MiB reply stuck,
    // reading waits for the socket; the end of the stream must end that
    // wait.
    await assertAborted([await held.promise]);
  } finally {
    await server.close({ timeout: 0 });
    await serving;
  }
});
