// What a peer can make a channel hold, and for how long: frame buffers
// that grow with the bytes received, the process-wide partial frame
// budget, frameTimeout and idleTimeout, replies and unanswered requests as
// backpressure, the requests' signal, loud codec failures.
import assert from "node:assert/strict";
import { frame } from "../_frames.ts";
import {
  Channel,
  type ChannelOptions,
  createMemoryPair,
  FrameDecoderStream,
  partialFrameBudget,
  type Request,
  setPartialFrameBudget,
} from "../../channel/mod.ts";
import { FrameParser } from "../../channel/_frame_parser.ts";
import { formatError, formatErrorList } from "../../channel/_traceback.ts";
import { JsonCodec } from "../../codecs/mod.ts";
import { ConnectionClosedError, ProtocolError } from "../../errors.ts";

const utf8 = new TextEncoder();
const KiB = 1024;
const MiB = 1024 * KiB;

function header(length: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, length);
  return bytes;
}

/** A channel on one end of a memory pair, and a raw writer on the other. */
function rawPair(options: ChannelOptions = {}) {
  const [a, b] = createMemoryPair();
  const channel = new Channel(b, options);
  const writer = a.writable.getWriter();
  const reader = a.readable.getReader();
  return {
    channel,
    write: (bytes: Uint8Array) => writer.write(bytes),
    /** Closes the channel and lets go of the raw end. */
    async close() {
      await channel.close({ timeout: 0 });
      await channel.closed.catch(() => {});
      writer.releaseLock();
      reader.releaseLock();
    },
  };
}

/** Resolves with what `channel.closed` rejected with. */
async function closedWith(channel: Channel): Promise<unknown> {
  try {
    await channel.closed;
  } catch (error) {
    return error;
  }
  assert.fail("the channel closed cleanly");
}

/** A working pair of channels, to show others are unaffected. */
async function assertOtherPairWorks(): Promise<void> {
  const [a, b] = createMemoryPair();
  const client = new Channel(a);
  const server = new Channel(b);
  const reply = client.send("ping");
  const request = await server.recv();
  await request.reply("pong");
  assert.equal(await reply, "pong");
  await client.close();
  await server.close();
}

Deno.test("FrameParser: a header claiming 64 MiB reserves nothing; its buffer grows with the bytes received", () => {
  const parser = new FrameParser(64 * MiB);
  const before = partialFrameBudget().held;
  const frames: Uint8Array[] = [];
  parser.push(header(64 * MiB), frames);
  assert.ok(parser.partial);
  assert.equal(parser.bufferSize, 0);
  assert.equal(partialFrameBudget().held, before);
  parser.push(new Uint8Array(10), frames);
  assert.equal(parser.bufferSize, 4 * KiB);
  assert.equal(partialFrameBudget().held - before, 4 * KiB);
  parser.push(new Uint8Array(5000), frames);
  assert.equal(parser.bufferSize, 8 * KiB, "doubled");
  parser.push(new Uint8Array(100 * KiB), frames);
  assert.equal(parser.bufferSize, 10 + 5000 + 100 * KiB, "as much as arrived");
  assert.equal(
    parser.partialDescription,
    `${10 + 5000 + 100 * KiB} of ${64 * MiB} payload bytes`,
  );
  parser.release();
  assert.equal(partialFrameBudget().held, before);
});

Deno.test("FrameParser: a split frame arrives whole, and its budget is released", () => {
  const payload = Uint8Array.from({ length: 70_000 }, (_, i) => i * 7);
  const bytes = frame(payload);
  const before = partialFrameBudget().held;
  const parser = new FrameParser();
  const frames: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += 999) {
    parser.push(bytes.subarray(at, at + 999), frames);
  }
  assert.equal(frames.length, 1);
  assert.deepEqual(frames[0], payload);
  assert.equal(partialFrameBudget().held, before);
});

Deno.test("partial frame budget: beyond it the largest holder is cut with a ProtocolError; the others go on", async () => {
  const previous = setPartialFrameBudget(64 * KiB);
  const large = rawPair({ peer: "large" });
  const small = rawPair({ peer: "small" });
  const pusher = rawPair({ peer: "pusher" });
  try {
    // The large holder: 40 KiB of a frame claiming 1 MiB.
    await large.write(header(MiB));
    await large.write(new Uint8Array(40 * KiB));
    // A small, complete request sent in two parts around the cut.
    const request = frame(
      utf8.encode(JSON.stringify([0, 0, "x".repeat(20_000)])),
    );
    await small.write(request.subarray(0, 10_000));
    // 30 KiB more from another connection: 70 KiB held, above 64 KiB, so
    // the largest holder, which is not the one pushing, is cut.
    await pusher.write(header(50 * KiB));
    await pusher.write(new Uint8Array(30 * KiB));
    const error = await closedWith(large.channel);
    assert.ok(error instanceof ProtocolError, String(error));
    assert.match(
      error.message,
      /from large: .*above its budget of 65536 \(setPartialFrameBudget\).*holds the most \(40960 bytes\)/,
    );
    assert.ok(!small.channel.isClosed && !pusher.channel.isClosed);
    await small.write(request.subarray(10_000));
    const received = await small.channel.recv();
    assert.equal(received.content, "x".repeat(20_000));
    await assertOtherPairWorks();
    // The pusher's frame growing beyond the budget cuts the pusher itself.
    await pusher.write(new Uint8Array(19 * KiB));
    assert.ok(!pusher.channel.isClosed);
    const bigger = rawPair({ peer: "bigger" });
    try {
      await bigger.write(header(MiB));
      await bigger.write(new Uint8Array(60 * KiB));
      const own = await closedWith(bigger.channel);
      assert.ok(own instanceof ProtocolError, String(own));
      assert.match(own.message, /from bigger: .*setPartialFrameBudget/);
    } finally {
      await bigger.close();
    }
  } finally {
    setPartialFrameBudget(previous);
    await large.close();
    await small.close();
    await pusher.close();
  }
  assert.equal(partialFrameBudget().held, 0, "everything released on close");
});

Deno.test("frameTimeout: a frame that stays partial closes the channel with a ProtocolError", async () => {
  const body = rawPair({ peer: "slow", frameTimeout: 30 });
  const head = rawPair({ peer: "slower", frameTimeout: 30 });
  try {
    await body.write(new Uint8Array([...header(100), 1, 2, 3]));
    await head.write(new Uint8Array([0, 0]));
    const error = await closedWith(body.channel);
    assert.ok(error instanceof ProtocolError, String(error));
    assert.equal(
      error.message,
      "Frame from slow incomplete after 30 ms (got 3 of 100 payload bytes; frameTimeout)",
    );
    const error2 = await closedWith(head.channel);
    assert.ok(error2 instanceof ProtocolError, String(error2));
    assert.match(error2.message, /got 2 of 4 header bytes; frameTimeout/);
  } finally {
    await body.close();
    await head.close();
  }
});

Deno.test("idleTimeout: a connection with nothing pending and no bytes closes; a busy one stays", async () => {
  const [a, b] = createMemoryPair();
  const client = new Channel(a);
  const busy = new Channel(b, { idleTimeout: 20, peer: "busy" });
  const idle = rawPair({ peer: "idle", idleTimeout: 60 });
  try {
    // The busy side has a request unanswered: not idle.
    const reply = client.send("wait");
    const request = await busy.recv();
    const error = await closedWith(idle.channel);
    assert.ok(error instanceof ProtocolError, String(error));
    assert.match(
      error.message,
      /idle: no bytes received and nothing pending for 60 ms \(idleTimeout\)/,
    );
    assert.ok(
      !busy.isClosed,
      "a channel with a request unanswered is not idle",
    );
    await request.reply("done");
    assert.equal(await reply, "done");
    // Now it is idle.
    const idleError = await closedWith(busy);
    assert.match(String(idleError), /idleTimeout/);
  } finally {
    await client.close();
    await busy.close();
    await idle.close();
  }
});

Deno.test("maxConcurrentRequests: requests taken and not answered stop the channel reading; answering resumes it", async () => {
  const [a, b] = createMemoryPair();
  const client = new Channel(a);
  const server = new Channel(b, { maxConcurrentRequests: 4 });
  try {
    const count = 100;
    const replies = Array.from({ length: count }, (_, i) => client.send(i));
    const taken: Request[] = [];
    for (let i = 0; i < 4; i++) taken.push(await server.recv());
    let more = false;
    const fifth = server.recv().then((request) => {
      more = true;
      return request;
    });
    for (let i = 0; i < 5; i++) await assertOtherPairWorks();
    assert.ok(!more, "a fifth request was read with 4 unanswered");
    assert.equal(server.maxConcurrentRequests, 4);
    for (const request of taken) await request.reply(request.content);
    await (await fifth).reply(4);
    for (let i = 5; i < count; i++) {
      const request = await server.recv();
      await request.reply(request.content);
    }
    assert.deepEqual(
      await Promise.all(replies),
      Array.from({ length: count }, (_, i) => i),
    );
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("highWaterMark: a peer that sends requests and never reads its replies stops being read; others are served", async () => {
  const [a, b] = createMemoryPair();
  let handled = 0;
  const server = new Channel(b, { highWaterMark: 1024 });
  const serving = (async () => {
    for await (const request of server) {
      handled++;
      // Synchronous handler: answered at once, 4 KiB each.
      request.reply("r".repeat(4096)).catch(() => {});
    }
  })();
  const writer = a.writable.getWriter();
  const count = 1000;
  let written = 0;
  const sending = (async () => {
    const codec = new JsonCodec();
    for (let i = 0; i < count; i++) {
      await writer.write(frame(codec.encode([0, i, "echo"])));
      written++;
    }
  })().catch(() => {});
  try {
    for (let i = 0; i < 10; i++) await assertOtherPairWorks();
    assert.ok(
      handled <= 8,
      `the server handled ${handled} requests of a peer that reads no reply`,
    );
    assert.ok(written < count, "the sender's writes were not slowed down");
  } finally {
    await server.close({ timeout: 0 });
    await serving;
    await sending;
    writer.releaseLock();
  }
});

Deno.test("Request.signal: aborts with a ConnectionClosedError when the channel closes from either side", async () => {
  for (const side of ["peer", "own"] as const) {
    const [a, b] = createMemoryPair();
    const client = new Channel(a);
    const server = new Channel(b);
    client.send("work").catch(() => {});
    const request = await server.recv();
    assert.equal(request.signal, server.signal, "one signal per channel");
    assert.ok(!request.signal.aborted);
    const aborted = abortReason(request.signal);
    const closing = side === "peer" ? client.close() : server.close();
    const reason = await aborted;
    assert.ok(reason instanceof ConnectionClosedError, `${side}: ${reason}`);
    await request.reply("late").catch(() => {});
    await closing;
    await client.close();
    await server.close();
  }
});

Deno.test("Request.signal: aborts when the channel fails on bad input", async () => {
  const raw = rawPair();
  try {
    await raw.write(frame(utf8.encode('[0, 0, "work"]')));
    const request = await raw.channel.recv();
    const aborted = abortReason(request.signal);
    await raw.write(header(0));
    const reason = await aborted;
    assert.ok(reason instanceof ConnectionClosedError, String(reason));
    assert.ok(reason.cause instanceof ProtocolError);
  } finally {
    await raw.close();
  }
});

/** Resolves with the signal's reason once it aborts. */
function abortReason(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(signal.reason), {
      once: true,
    })
  );
}

/** A JsonCodec whose decode throws (or rejects, async) on the text "boom". */
class ThrowingCodec extends JsonCodec {
  override decode(data: Uint8Array): unknown {
    if (new TextDecoder().decode(data).includes("boom")) {
      throw new Error("the decoder broke");
    }
    return super.decode(data);
  }
}

class RejectingCodec extends JsonCodec {
  override decode(data: Uint8Array): unknown {
    if (new TextDecoder().decode(data).includes("boom")) {
      return Promise.reject(new Error("the module did not load"));
    }
    return super.decode(data);
  }
}

for (const Codec of [ThrowingCodec, RejectingCodec]) {
  Deno.test(`a codec whose decode ${Codec.name === "ThrowingCodec" ? "throws" : "rejects"} closes the channel with a ProtocolError naming it; pending calls reject`, async () => {
    const [a, b] = createMemoryPair();
    const client = new Channel(a, { peer: "server" });
    const server = new Channel(b, { codec: new Codec(), peer: "client" });
    try {
      const pendingOnServer = server.send("a call of the server's own");
      const ownRequest = await client.recv();
      const pendingOnClient = client.send("boom");
      const error = await closedWith(server);
      assert.ok(error instanceof ProtocolError, String(error));
      assert.match(
        error.message,
        new RegExp(`^Cannot decode message from client with ${Codec.name}: `),
      );
      await assert.rejects(pendingOnServer, ConnectionClosedError);
      await assert.rejects(pendingOnClient, ConnectionClosedError);
      await ownRequest.reply("late").catch(() => {});
    } finally {
      await client.close();
      await server.close();
    }
  });
}

Deno.test("a reply the codec fails to encode with an unexpected error closes the channel; the caller's call rejects", async () => {
  class BrokenEncoder extends JsonCodec {
    override encode(value: unknown): Uint8Array {
      if (JSON.stringify(value).includes("unencodable")) {
        throw new Error("the encoder module did not load");
      }
      return super.encode(value);
    }
  }
  const [a, b] = createMemoryPair();
  const client = new Channel(a);
  const server = new Channel(b, { codec: new BrokenEncoder(), peer: "client" });
  try {
    const call = client.send("question", { timeout: 5000 });
    const request = await server.recv();
    await assert.rejects(request.reply("unencodable"), ConnectionClosedError);
    const error = await closedWith(server);
    assert.ok(error instanceof ProtocolError, String(error));
    assert.match(
      error.message,
      /^Cannot encode reply to client with BrokenEncoder: the encoder module did not load/,
    );
    await assert.rejects(call, ConnectionClosedError);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("formatError: a thrown object is shown as JSON, never through its toString", () => {
  const thrown = {
    code: 42,
    toString() {
      throw new Error("a peer's toString must not be called");
    },
  };
  assert.equal(
    formatError({ code: 42, reason: "x" }),
    'Error: {"code":42,"reason":"x"}\n',
  );
  assert.equal(formatError(thrown), 'Error: {"code":42}\n');
  assert.deepEqual(formatErrorList({ a: 1 }).slice(0, 2), ["Error", '{"a":1}']);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.equal(formatError(cyclic), "Error: [object Object]\n");
  assert.equal(formatError(7), "Error: 7\n");
  assert.equal(formatError("text"), "Error: text\n");
  const long = formatError({ data: "y".repeat(5000) });
  assert.ok(long.length < 1100, `${long.length} characters`);
  assert.match(long, /… \(5011 characters\)\n$/);
});

Deno.test("formatError: a peer's text in the message is neither read as frames nor sent back at any size", () => {
  // What a handler's error may quote: a path or an argument from the peer.
  const fake = "\n    at evil (file:///evil.ts:1:1)".repeat(50);
  const fromPeer = "\n at " + "a (".repeat(100_000) + "x" + fake;
  const error = new RangeError(`No such name: ${fromPeer}`);
  const text = formatError(error);
  assert.doesNotMatch(text, /evil\.ts", line/);
  assert.match(text, /^Traceback \(most recent call last\):\n {2}File "/);
  assert.match(
    text,
    /\nRangeError: No such name: \n at a \(a \(.*… \(\d+ characters\)\n$/s,
  );
  assert.ok(text.length < 20_000, `${text.length} characters`);
  const [name, message] = formatErrorList(error);
  assert.equal(name, "RangeError");
  assert.ok(message.length < 10_100, `${message.length} characters`);
  // A message changed after the stack was taken: its lines are scanned,
  // but at most 100 of them.
  const changed = new Error("short");
  changed.message = "other";
  changed.stack = `Error: short${"\n    at f (file:///x.ts:1:1)".repeat(1000)}`;
  assert.equal(formatError(changed).match(/ File "/g)?.length, 100);
});

Deno.test("formatError: frames of every V8 form", () => {
  const error = new Error("e");
  error.stack = [
    "Error: e",
    "    at named (file:///a.ts:10:5)",
    "    at async Foo.bar (file:///b c.ts:20:7)",
    "    at file:///c.ts:30:1",
    "    at async Promise.all (index 0)",
    "    at eval (eval at <anonymous> (file:///d.ts:1:1), <anonymous>:4:2)",
    "    at not a frame",
  ].join("\n");
  assert.equal(
    formatError(error),
    "Traceback (most recent call last):\n" +
      '  File "eval at <anonymous> (file:///d.ts:1:1), <anonymous>", line 4, in eval\n' +
      '  File "file:///c.ts", line 30, in <module>\n' +
      '  File "file:///b c.ts", line 20, in Foo.bar\n' +
      '  File "file:///a.ts", line 10, in named\n' +
      "Error: e\n",
  );
});

Deno.test("maxUnansweredSize: the decoded cost of requests unanswered stops the channel reading; answering resumes it", async () => {
  const [a, b] = createMemoryPair();
  const client = new Channel(a);
  const server = new Channel(b, { maxUnansweredSize: 32000 });
  try {
    const big = "x".repeat(600);
    const replies = Array.from({ length: 10 }, () => client.send(big));
    // About 608 JSON bytes × 32 = 19456 units, then 38912: the second
    // crosses the limit, and is received.
    const first = await server.recv();
    const second = await server.recv();
    let more = false;
    const third = server.recv().then((request) => {
      more = true;
      return request;
    });
    for (let i = 0; i < 5; i++) await assertOtherPairWorks();
    assert.ok(!more, "a third request was read with 38912 units unanswered");
    await first.reply(1);
    await second.reply(2);
    await (await third).reply(3);
    for (let i = 3; i < 10; i++) await (await server.recv()).reply(i + 1);
    assert.deepEqual(
      await Promise.all(replies),
      Array.from({ length: 10 }, (_, i) => i + 1),
    );
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("FrameDecoderStream: a stream that ends inside a frame or goes over the budget releases what the frame held", async () => {
  const before = partialFrameBudget().held;
  const ended = ReadableStream.from([header(MiB), new Uint8Array(100)])
    .pipeThrough(new FrameDecoderStream());
  await assert.rejects(
    Array.fromAsync(ended),
    /ended inside a frame \(100 of 1048576 payload bytes\)/,
  );
  assert.equal(partialFrameBudget().held, before);
  const previous = setPartialFrameBudget(1000);
  try {
    const over = ReadableStream.from([header(MiB), new Uint8Array(2000)])
      .pipeThrough(new FrameDecoderStream());
    await assert.rejects(Array.fromAsync(over), /setPartialFrameBudget/);
  } finally {
    setPartialFrameBudget(previous);
  }
  assert.equal(partialFrameBudget().held, before);
});

Deno.test("highWaterMark: replies that waited for the socket are queued as it drains, not all at once", async () => {
  let encodes = 0;
  class Counting extends JsonCodec {
    override encode(value: unknown): Uint8Array {
      encodes++;
      return super.encode(value);
    }
  }
  const requests = Array.from(
    { length: 10 },
    (_, i) => frame(utf8.encode(JSON.stringify([0, i, "q"]))),
  );
  const chunk = new Uint8Array(requests.reduce((n, r) => n + r.length, 0));
  requests.reduce((at, r) => (chunk.set(r, at), at + r.length), 0);
  let delivered = false;
  const closed = Promise.withResolvers<null>();
  // Each write waits until the test lets it finish; `writes` says when one starts.
  const writes: PromiseWithResolvers<void>[] = [];
  let finishWrite: (() => void) | null = null;
  let writeStarted = Promise.withResolvers<void>();
  const transport = {
    get readable(): ReadableStream<Uint8Array> {
      throw new Error("not used");
    },
    get writable(): WritableStream<Uint8Array> {
      throw new Error("not used");
    },
    read(buffer: Uint8Array): Promise<number | null> {
      if (delivered) return closed.promise;
      delivered = true;
      buffer.set(chunk);
      return Promise.resolve(chunk.length);
    },
    write(bytes: Uint8Array): Promise<number> {
      const done = Promise.withResolvers<void>();
      writes.push(done);
      finishWrite = () => done.resolve();
      writeStarted.resolve();
      return done.promise.then(() => bytes.length);
    },
    close() {
      closed.resolve(null);
      for (const write of writes) write.resolve();
    },
  };
  const server = new Channel(transport, {
    codec: new Counting(),
    highWaterMark: 100,
  });
  try {
    const taken: Request[] = [];
    while (taken.length < 10) {
      taken.push(server.tryRecv() ?? await server.recv());
    }
    const replies = taken.map((r) => r.reply("x".repeat(1000)).catch(() => {}));
    await writeStarted.promise;
    assert.equal(
      encodes,
      1,
      "only the first reply is queued while the socket is behind",
    );
    writeStarted = Promise.withResolvers<void>();
    finishWrite!();
    await writeStarted.promise;
    assert.equal(encodes, 2, "one more reply once the socket drained");
    await server.close({ timeout: 0 });
    await Promise.all(replies);
  } finally {
    await server.close({ timeout: 0 });
  }
});
