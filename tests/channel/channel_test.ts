import assert from "node:assert/strict";
import { frame } from "../_frames.ts";
import {
  Channel,
  type ChannelOptions,
  createMemoryPair,
  FrameDecoderStream,
  FrameEncoderStream,
  type Request,
  type Transport,
} from "../../channel/mod.ts";
import {
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";
import {
  ConnectionClosedError,
  ProtocolError,
  RemoteError,
  SerializationError,
} from "../../errors.ts";

const utf8 = new TextEncoder();

/**
 * The other end of a transport, driven by hand: writes raw bytes or JSON
 * frames and reads the frames the channel writes, decoded with JsonCodec.
 */
class RawPeer {
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #codec = new JsonCodec();

  constructor(transport: Transport) {
    this.#writer = transport.writable.getWriter();
    this.#reader = transport.readable.pipeThrough(new FrameDecoderStream())
      .getReader();
  }

  /** Writes bytes as they are. */
  async write(bytes: Uint8Array): Promise<void> {
    await this.#writer.write(bytes);
  }

  /** Writes one JSON-encoded message as a frame. */
  async send(message: unknown): Promise<void> {
    await this.write(frame(this.#codec.encode(message)));
  }

  /** Reads the next frame's payload as text. */
  async readText(): Promise<string> {
    const { value, done } = await this.#reader.read();
    assert.ok(!done, "expected a frame, the stream ended");
    return new TextDecoder().decode(value);
  }

  /** Reads and decodes the next message. */
  async read(): Promise<unknown> {
    const { value, done } = await this.#reader.read();
    assert.ok(!done, "expected a frame, the stream ended");
    return this.#codec.decode(value);
  }

  /** Waits until the channel has closed its side (cleanly or not). */
  async ended(): Promise<void> {
    try {
      const { done, value } = await this.#reader.read();
      assert.ok(
        done,
        `expected the end, got ${value && new TextDecoder().decode(value)}`,
      );
    } catch {
      // Aborted by the channel: also an end.
    }
  }

  /** Ends our side (EOF for the channel) and stops reading. */
  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
    await this.#reader.cancel().catch(() => {});
  }
}

/** A channel on one end of a memory pair and a raw peer on the other. */
function rawPair(options?: ChannelOptions): [Channel, RawPeer] {
  const [a, b] = createMemoryPair();
  return [new Channel(a, options), new RawPeer(b)];
}

function channelPair(
  clientOptions?: ChannelOptions,
  serverOptions?: ChannelOptions,
): [Channel, Channel] {
  const [a, b] = createMemoryPair();
  return [new Channel(a, clientOptions), new Channel(b, serverOptions)];
}

/** Records every chunk written to a transport. */
function tapWrites(transport: Transport, log: Uint8Array[]): Transport {
  const tap = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      log.push(chunk.slice());
      controller.enqueue(chunk);
    },
  });
  tap.readable.pipeTo(transport.writable).catch(() => {});
  return { readable: transport.readable, writable: tap.writable };
}

async function decodeLog(log: Uint8Array[]): Promise<unknown[]> {
  const codec = new JsonCodec();
  const frames = await Array.fromAsync(
    ReadableStream.from(log).pipeThrough(new FrameDecoderStream()),
  );
  return frames.map((f) => codec.decode(f));
}

/** Serves `channel` with `fn` until it closes. */
async function serve(
  channel: Channel,
  fn: (content: unknown) => unknown,
): Promise<void> {
  for await (const request of channel) await request.reply(fn(request.content));
}

function isClosedError(pattern?: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(
      error instanceof ConnectionClosedError,
      `expected ConnectionClosedError, got ${error}`,
    );
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

Deno.test("send, recv and reply", async () => {
  const [client, server] = channelPair();
  const reply = client.send("ohai");
  const request = await server.recv();
  assert.equal(request.content, "ohai");
  assert.equal(request.answered, false);
  await request.reply("cya");
  assert.equal(request.answered, true);
  assert.equal(await reply, "cya");
  assert.equal(client.codec.name, "json");
  assert.equal(client.peer, "peer");
  await client.close();
  await server.closed;
});

Deno.test("values of every JSON type travel", async () => {
  const [client, server] = channelPair();
  const served = serve(server, (content) => content);
  const values = [null, true, false, 0, -1.5, 2 ** 53 - 1, "", "ü€😀", [], {}, {
    a: [1, { b: null }],
  }];
  for (const value of values) assert.deepEqual(await client.send(value), value);
  await client.close();
  await served;
});

Deno.test("for await ends when the peer closes", async () => {
  const [client, server] = channelPair();
  const seen: unknown[] = [];
  const served = (async () => {
    for await (const request of server) {
      seen.push(request.content);
      await request.reply(seen.length);
    }
  })();
  assert.equal(await client.send("a"), 1);
  assert.equal(await client.send("b"), 2);
  await client.close();
  await served;
  assert.deepEqual(seen, ["a", "b"]);
  await server.closed;
  assert.equal(server.isClosed, true);
  await assert.rejects(server.recv(), ConnectionClosedError);
});

Deno.test("replies may come in any order", async () => {
  const [client, server] = channelPair();
  const replies = [client.send("a"), client.send("b"), client.send("c")];
  const requests: Request[] = [];
  for (let i = 0; i < 3; i++) requests.push(await server.recv());
  assert.deepEqual(requests.map((r) => r.content), ["a", "b", "c"]);
  await requests[2].reply("C");
  assert.equal(await replies[2], "C");
  await requests[0].reply("A");
  await requests[1].reply("B");
  assert.deepEqual(await Promise.all(replies), ["A", "B", "C"]);
  await client.close();
  await server.closed;
});

Deno.test("a call answered after thousands of later ones still gets its reply", async () => {
  const [client, server] = channelPair();
  const slowReply = client.send("slow");
  const slow = await server.recv();
  const quick = (async () => {
    for (let i = 0; i < 3000; i++) {
      const request = await server.recv();
      await request.reply(request.content);
    }
  })();
  // Sixteen at a time, as a busy client would.
  for (let i = 0; i < 3000; i += 16) {
    const batch = Array.from({ length: 16 }, (_, j) => i + j)
      .filter((n) => n < 3000);
    assert.deepEqual(
      await Promise.all(batch.map((n) => client.send(n))),
      batch,
    );
  }
  await quick;
  await slow.reply("finally");
  assert.equal(await slowReply, "finally");
  await client.close();
  await server.closed;
});

Deno.test("wire: ids start at 0 per side and replies match by id", async () => {
  const [channel, raw] = rawPair({ peer: "raw" });
  const replies = [channel.send("a"), channel.send("b"), channel.send("c")];
  assert.deepEqual(await raw.read(), [0, 0, "a"]);
  assert.deepEqual(await raw.read(), [0, 1, "b"]);
  assert.deepEqual(await raw.read(), [0, 2, "c"]);
  await raw.send([1, 2, "C"]);
  await raw.send([2, 1, "Traceback (most recent call last):\nKeyError: 'b'\n"]);
  await raw.send([1, 0, "A"]);
  assert.equal(await replies[0], "A");
  await assert.rejects(replies[1], (error) => {
    assert.ok(error instanceof RemoteError);
    assert.equal(error.remoteName, "KeyError");
    assert.equal(error.remoteMessage, "'b'");
    assert.equal(error.origin, "raw");
    return true;
  });
  assert.equal(await replies[2], "C");
  assert.equal(channel.isClosed, false);
  await channel.close();
  await raw.ended();
  await raw.close();
});

Deno.test("wire: a reply echoes the request id whatever it is", async () => {
  const [channel, raw] = rawPair();
  const served = serve(channel, (content) => content);
  await raw.send([0, 41, "x"]);
  await raw.send([0, "odd", "y"]);
  assert.deepEqual(await raw.read(), [1, 41, "x"]);
  assert.deepEqual(await raw.read(), [1, "odd", "y"]);
  await raw.close();
  await served;
  await channel.closed;
});

Deno.test("wire: both sides use id 0 at once without conflict", async () => {
  const [channel, raw] = rawPair();
  const mine = channel.send("from channel");
  assert.deepEqual(await raw.read(), [0, 0, "from channel"]);
  await raw.send([0, 0, "from raw"]);
  const request = await channel.recv();
  assert.equal(request.content, "from raw");
  await request.reply("to raw");
  assert.deepEqual(await raw.read(), [1, 0, "to raw"]);
  await raw.send([1, 0, "to channel"]);
  assert.equal(await mine, "to channel");
  await channel.close();
  await raw.close();
});

Deno.test("two channels sending at once both use id 0", async () => {
  const [a, b] = createMemoryPair();
  const aLog: Uint8Array[] = [];
  const bLog: Uint8Array[] = [];
  const left = new Channel(tapWrites(a, aLog));
  const right = new Channel(tapWrites(b, bLog));
  const fromLeft = left.send("L");
  const fromRight = right.send("R");
  const [leftRequest, rightRequest] = await Promise.all([
    left.recv(),
    right.recv(),
  ]);
  assert.equal(leftRequest.content, "R");
  assert.equal(rightRequest.content, "L");
  await leftRequest.reply("R back");
  await rightRequest.reply("L back");
  assert.equal(await fromLeft, "L back");
  assert.equal(await fromRight, "R back");
  await left.close();
  await right.closed;
  assert.deepEqual(await decodeLog(aLog), [[0, 0, "L"], [1, 0, "R back"]]);
  assert.deepEqual(await decodeLog(bLog), [[0, 0, "R"], [1, 0, "L back"]]);
});

Deno.test("fail() sends an error reply that becomes a RemoteError", async () => {
  const [client, server] = channelPair({ peer: "server:1" });
  const reply = client.send("boom");
  const request = await server.recv();
  const error = new Error("42");
  error.name = "ValueError";
  await request.fail(error);
  assert.equal(request.answered, true);
  await assert.rejects(reply, (e) => {
    assert.ok(e instanceof RemoteError);
    assert.equal(e.name, "RemoteError");
    assert.equal(e.remoteName, "ValueError");
    assert.equal(e.remoteMessage, "42");
    assert.equal(e.origin, "server:1");
    assert.match(e.message, /ValueError: 42 \(raised by server:1\)/);
    assert.match(e.remoteTraceback, /ValueError: 42\n$/);
    return true;
  });
  await client.close();
  await server.closed;
});

Deno.test("wire: fail() text ends with '<Name>: <message>\\n'", async () => {
  const [channel, raw] = rawPair();
  await raw.send([0, 0, "x"]);
  await raw.send([0, 1, "y"]);
  await raw.send([0, 2, "z"]);
  const error = new RangeError("out of range");
  await (await channel.recv()).fail(error);
  await (await channel.recv()).fail("just a string");
  await (await channel.recv()).fail(new TypeError(""));
  const [type, id, text] = await raw.read() as [number, number, string];
  assert.equal(type, 2);
  assert.equal(id, 0);
  assert.equal(typeof text, "string");
  assert.ok(text.endsWith("RangeError: out of range\n"), text);
  assert.ok(text.startsWith("Traceback (most recent call last):\n"), text);
  assert.deepEqual(await raw.read(), [2, 1, "Error: just a string\n"]);
  const [, , bare] = await raw.read() as [number, number, string];
  assert.ok(bare.endsWith("\nTypeError\n"), bare);
  await channel.close();
  await raw.close();
});

Deno.test("replying twice is a TypeError", async () => {
  const [client, server] = channelPair();
  const reply = client.send("x");
  const request = await server.recv();
  await request.reply(1);
  await assert.rejects(request.reply(2), TypeError);
  await assert.rejects(request.fail(new Error("no")), TypeError);
  assert.equal(await reply, 1);
  await client.close();
  await server.closed;
});

Deno.test("a reply that cannot be encoded rejects with SerializationError; fail() still works", async () => {
  const [channel, raw] = rawPair();
  class Opaque {}
  await raw.send([0, 0, "bytes"]);
  await raw.send([0, 1, "class"]);
  for (
    const [id, value] of [[0, new Uint8Array(1)], [1, new Opaque()]] as const
  ) {
    const request = await channel.recv();
    await assert.rejects(request.reply(value), SerializationError);
    assert.equal(request.answered, false);
    await assert.rejects(request.reply(value), SerializationError);
    let encodeError: unknown;
    await request.reply(value).catch((error) => (encodeError = error));
    await request.fail(encodeError);
    assert.equal(request.answered, true);
    // Nothing was sent for the failed replies: the next frame is the error reply.
    const [type, gotId, text] = await raw.read() as [number, number, string];
    assert.equal(type, 2);
    assert.equal(gotId, id);
    assert.match(text, /SerializationError: Cannot encode .*\n$/);
  }
  assert.equal(channel.isClosed, false);
  await channel.close();
  await raw.close();
});

Deno.test("a request that cannot be encoded rejects with SerializationError and sends nothing", async () => {
  const [channel, raw] = rawPair();
  class Opaque {}
  await assert.rejects(channel.send(new Uint8Array(3)), SerializationError);
  await assert.rejects(
    channel.send({ nested: [new Opaque()] }),
    SerializationError,
  );
  await assert.rejects(channel.send(() => 1), SerializationError);
  const reply = channel.send("ok");
  // The failed sends used no id and wrote nothing.
  assert.deepEqual(await raw.read(), [0, 0, "ok"]);
  await raw.send([1, 0, "fine"]);
  assert.equal(await reply, "fine");
  await channel.close();
  await raw.close();
});

Deno.test("close() is idempotent and rejects pending sends and recvs", async () => {
  const [client, server] = channelPair();
  const pendingSend = client.send("never answered");
  const pendingRecv = client.recv();
  const request = await server.recv();
  const first = client.close();
  const second = client.close();
  assert.equal(client.isClosed, true);
  await assert.rejects(pendingSend, isClosedError(/closed/));
  await assert.rejects(pendingRecv, ConnectionClosedError);
  await first;
  await second;
  await client.close();
  await client.closed;
  await assert.rejects(client.send("late"), ConnectionClosedError);
  await assert.rejects(client.recv(), ConnectionClosedError);
  // The server saw the end; answering now fails cleanly.
  await server.closed;
  await assert.rejects(request.reply("too late"), ConnectionClosedError);
});

for (const Codec of [JsonCodec, MsgPackBloscCodec]) {
  Deno.test(`close() still writes the replies queued before it (${Codec.name})`, async () => {
    const [client, server] = channelPair({ codec: new Codec() }, {
      codec: new Codec(),
    });
    const replies = [client.send(1), client.send(2)];
    const first = await server.recv();
    const second = await server.recv();
    const queued = [first.reply("one"), second.fail(new Error("two"))];
    await server.close();
    await Promise.all(queued);
    assert.equal(await replies[0], "one");
    await assert.rejects(replies[1], {
      name: "RemoteError",
      remoteMessage: "two",
    });
    await client.closed;
  });
}

Deno.test("await using closes the channel", async () => {
  const [a, b] = createMemoryPair();
  const server = new Channel(b);
  let outer: Channel;
  {
    await using client = new Channel(a);
    outer = client;
    const reply = client.send(1);
    await (await server.recv()).reply(2);
    assert.equal(await reply, 2);
  }
  assert.equal(outer.isClosed, true);
  await outer.closed;
  await server.closed;
});

Deno.test("a peer with another codec: the calls fail with a message that says what it may be", async () => {
  for (
    const [mine, theirs] of [
      [MsgPackCodec, JsonCodec],
      [JsonCodec, MsgPackCodec],
      [MsgPackBloscCodec, MsgPackCodec],
    ] as const
  ) {
    const [a, b] = createMemoryPair();
    const client = new Channel(a, { codec: new mine(), peer: "other" });
    const server = new Channel(b, { codec: new theirs() });
    await assert.rejects(
      client.send([1, 2]),
      isClosedError(
        new RegExp(
          `^Connection (closed by other|to other failed: .*) before it answered anything \\(e.g. a peer with another codec than this side's ${mine.name} closes at the first message\\)$`,
        ),
      ),
    );
    // The peer saw bytes it cannot decode; over a memory pair its failure
    // resets the stream (over a socket, it ends it).
    await assert.rejects(server.closed, ProtocolError);
    await client.closed.catch(() => {});
  }
});

Deno.test("a peer that answered before closing: the calls fail with the plain message", async () => {
  const [a, b] = createMemoryPair();
  const client = new Channel(a, { peer: "other" });
  const server = new Channel(b);
  const first = client.send(1);
  await (await server.recv()).reply(1);
  assert.equal(await first, 1);
  const second = client.send(2);
  await server.recv();
  await server.close({ timeout: 0 });
  await assert.rejects(second, isClosedError(/^Connection closed by other$/));
  await client.closed;
});

Deno.test("peer EOF rejects pending sends and resolves closed", async () => {
  const [channel, raw] = rawPair({ peer: "raw-peer" });
  const pending = [channel.send(1), channel.send(2)];
  const pendingRecv = channel.recv();
  assert.deepEqual(await raw.read(), [0, 0, 1]);
  assert.deepEqual(await raw.read(), [0, 1, 2]);
  await raw.close();
  for (const send of pending) {
    await assert.rejects(send, isClosedError(/closed by raw-peer/));
  }
  await assert.rejects(pendingRecv, ConnectionClosedError);
  await channel.closed;
  assert.equal(channel.isClosed, true);
  await assert.rejects(channel.send(3), ConnectionClosedError);
});

Deno.test("a peer channel closing rejects pending sends", async () => {
  const [client, server] = channelPair();
  const pending = client.send("x");
  await server.recv();
  // The request taken is never answered: do not wait for it.
  await server.close({ timeout: 0 });
  await assert.rejects(pending, ConnectionClosedError);
  await client.closed;
});

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
  const reply = client.send("fast", {
    signal: controller.signal,
    timeout: 60_000,
  });
  await (await server.recv()).reply("done");
  assert.equal(await reply, "done");
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

/** A round trip on a fresh, unrelated channel pair. */
async function assertOtherPairWorks(): Promise<void> {
  const [client, server] = channelPair();
  const served = serve(server, (content) => `${content} back`);
  assert.equal(await client.send("ping"), "ping back");
  await client.close();
  await served;
}

const badInputs: [string, Uint8Array, RegExp, ChannelOptions?][] = [
  [
    "an oversized header",
    new Uint8Array([0xff, 0xff, 0xff, 0xff]),
    /length 4294967295 exceeds maxFrameSize 16777216/,
  ],
  [
    "a frame above the maxFrameSize option",
    frame(utf8.encode('[1, 0, "0123456789"]')),
    /length 20 exceeds maxFrameSize 15/,
    // Room for the channel's own request, [0,0,"waiting"] (15 bytes).
    { maxFrameSize: 15 },
  ],
  [
    "garbage bytes",
    utf8.encode("GET / HTTP/1.1\r\n\r\n"),
    /exceeds maxFrameSize/,
  ],
  ["a 0-length frame", new Uint8Array(4), /length 0/],
  [
    "a payload that is not JSON",
    frame(utf8.encode("{oops")),
    /Cannot decode message from peer/,
  ],
  [
    "a payload that is not UTF-8",
    frame(new Uint8Array([0x5b, 0xff])),
    /Cannot decode message/,
  ],
  [
    "a map instead of a message",
    frame(utf8.encode('{"a": 1}')),
    /\[type, id, content\] array/,
  ],
  [
    "a 2-element array",
    frame(utf8.encode("[1, 0]")),
    /\[type, id, content\] array/,
  ],
  [
    "a 4-element array",
    frame(utf8.encode("[1, 0, 1, 1]")),
    /\[type, id, content\] array/,
  ],
  [
    "unknown type 7",
    frame(utf8.encode("[7, 0, null]")),
    /unknown message type 7/,
  ],
  [
    "a reply with an unknown id",
    frame(utf8.encode("[1, 99, null]")),
    /no request has id 99/,
  ],
  [
    "an error reply with an unknown id",
    frame(utf8.encode('[2, "x", "E: e\\n"]')),
    /no request has id "x"/,
  ],
  [
    "an unknown __type__ typeid",
    frame(utf8.encode('[0, 5, {"__type__": [3, 1]}]')),
    /Cannot decode message.*typeid 3/,
  ],
];

for (const [what, bytes, pattern, options] of badInputs) {
  Deno.test(`bad input closes only that channel: ${what}`, async () => {
    const [channel, raw] = rawPair(options);
    const pending = channel.send("waiting");
    const pendingRecv = channel.recv();
    assert.deepEqual(await raw.read(), [0, 0, "waiting"]);
    raw.write(bytes).catch(() => {}); // The channel may stop reading mid-write.
    await assert.rejects(channel.closed, (error) => {
      assert.ok(
        error instanceof ProtocolError,
        `expected ProtocolError, got ${error}`,
      );
      assert.match(error.message, pattern);
      return true;
    });
    assert.equal(channel.isClosed, true);
    await assert.rejects(pending, (error) => {
      assert.ok(error instanceof ConnectionClosedError);
      assert.ok(error.cause instanceof ProtocolError);
      assert.match(error.message, pattern);
      return true;
    });
    await assert.rejects(pendingRecv, ConnectionClosedError);
    await assert.rejects(channel.send("more"), ConnectionClosedError);
    await raw.ended();
    await raw.close();
    await channel.close(); // Still fine after the failure.
    await assertOtherPairWorks();
  });
}

Deno.test("bad input: the stream ending inside a frame", async () => {
  const [channel, raw] = rawPair();
  const pending = channel.send("waiting");
  assert.deepEqual(await raw.read(), [0, 0, "waiting"]);
  await raw.write(new Uint8Array([0, 0, 0, 9, 1, 2]));
  await raw.close();
  await assert.rejects(channel.closed, (error) => {
    assert.ok(error instanceof ProtocolError);
    assert.match(
      error.message,
      /ended inside a frame \(2 of 9 payload bytes\)/,
    );
    return true;
  });
  await assert.rejects(pending, ConnectionClosedError);
  await assertOtherPairWorks();
});

Deno.test("bad input: frames before the bad bytes in the same chunk are still handled", async () => {
  const [channel, raw] = rawPair();
  const pending = channel.send("waiting");
  assert.deepEqual(await raw.read(), [0, 0, "waiting"]);
  // One chunk: the reply, then a bad header. Chunking must not decide whether
  // the reply is seen (over TCP the two could as well arrive apart).
  const reply = frame(utf8.encode('[1, 0, "answered"]'));
  const chunk = new Uint8Array(reply.length + 4).fill(0xff);
  chunk.set(reply);
  raw.write(chunk).catch(() => {});
  assert.equal(await pending, "answered");
  await assert.rejects(channel.closed, (error) => {
    assert.ok(error instanceof ProtocolError);
    assert.match(error.message, /exceeds maxFrameSize/);
    return true;
  });
  await raw.ended();
  await raw.close();
});

Deno.test("a reply waiting for the transport rejects with ConnectionClosedError when it fails", async () => {
  const [a, b] = createMemoryPair();
  const channel = new Channel(a, { highWaterMark: 16 });
  const toChannel = b.writable.getWriter();
  const fromChannel = b.readable.getReader(); // Never read: the channel's writes stall.
  await toChannel.write(frame(utf8.encode('[0, 0, "big one"]')));
  const request = await channel.recv();
  const replied = request.reply("x".repeat(1000));
  const gone = new Error("peer gone");
  await fromChannel.cancel(gone);
  await assert.rejects(replied, (error) => {
    assert.ok(
      error instanceof ConnectionClosedError,
      `expected ConnectionClosedError, got ${error}`,
    );
    assert.equal(error.cause, gone);
    return true;
  });
  await assert.rejects(channel.closed, (error) => error === gone);
  await assert.rejects(channel.send("more"), ConnectionClosedError);
  await toChannel.close().catch(() => {});
  await channel.close();
});

Deno.test("bad input makes for await throw the ProtocolError", async () => {
  const [channel, raw] = rawPair();
  const served = (async () => {
    for await (const request of channel) await request.reply(request.content);
  })();
  await raw.send([0, 0, "fine"]);
  assert.deepEqual(await raw.read(), [1, 0, "fine"]);
  await raw.send([9, 9, 9]);
  await assert.rejects(served, (error) => {
    assert.ok(error instanceof ProtocolError);
    assert.match(error.message, /unknown message type 9/);
    return true;
  });
  await assert.rejects(channel.closed, ProtocolError);
  await raw.ended();
  await raw.close();
});

Deno.test("MsgPackBloscCodec: many concurrent sends arrive and are answered in order", async () => {
  const [client, server] = channelPair(
    { codec: new MsgPackBloscCodec() },
    { codec: new MsgPackBloscCodec() },
  );
  assert.equal(client.codec.name, "msgpackblosc");
  const count = 300;
  const received: number[] = [];
  const served = (async () => {
    for await (const request of server) {
      const { i, data } = request.content as { i: number; data: Uint8Array };
      received.push(i);
      await request.reply({ i, size: data.length, echo: data });
    }
  })();
  const replies = Array.from({ length: count }, (_, i) => {
    const data = new Uint8Array(i * 37).map((_, j) => (i + j) & 0xff);
    return client.send({ i, data });
  });
  const results = await Promise.all(replies) as {
    i: number;
    size: number;
    echo: Uint8Array;
  }[];
  assert.deepEqual(received, Array.from({ length: count }, (_, i) => i));
  for (let i = 0; i < count; i++) {
    assert.equal(results[i].i, i);
    assert.equal(results[i].size, i * 37);
    assert.deepEqual(
      results[i].echo,
      new Uint8Array(i * 37).map((_, j) => (i + j) & 0xff),
    );
  }
  await client.close();
  await served;
});

Deno.test("MsgPackBloscCodec: encoding errors reject without closing the channel", async () => {
  const [client, server] = channelPair(
    { codec: new MsgPackBloscCodec() },
    { codec: new MsgPackBloscCodec() },
  );
  class Opaque {}
  await assert.rejects(client.send(new Opaque()), SerializationError);
  const reply = client.send("x");
  const request = await server.recv();
  assert.equal(request.content, "x");
  await assert.rejects(request.reply(new Opaque()), SerializationError);
  assert.equal(request.answered, false);
  await request.fail(new Error("could not encode"));
  await assert.rejects(reply, {
    name: "RemoteError",
    remoteMessage: "could not encode",
  });
  assert.equal(
    await Promise.all([client.send(1), server.recv().then((r) => r.reply(2))])
      .then(([r]) => r),
    2,
  );
  await client.close();
  await server.closed;
});

Deno.test("MsgPackBloscCodec: a payload that does not decompress is a ProtocolError", async () => {
  const [channel, raw] = rawPair({ codec: new MsgPackBloscCodec() });
  const pending = channel.send("waiting");
  await raw.readText(); // The (compressed) request.
  await raw.write(frame(utf8.encode("not a blosc frame at all")));
  await assert.rejects(channel.closed, (error) => {
    assert.ok(
      error instanceof ProtocolError,
      `expected ProtocolError, got ${error}`,
    );
    assert.match(error.message, /Cannot decode message from peer/);
    return true;
  });
  await assert.rejects(pending, ConnectionClosedError);
  await raw.ended();
  await raw.close();
  await assertOtherPairWorks();
});

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
  await channel.close({ timeout: 0 });
  await assert.rejects(waiting, ConnectionClosedError);
  // The stuck frames were not delivered: the peer sees the connection reset.
  await assert.rejects(b.readable.getReader().read(), { name: "NetworkError" });
});

Deno.test("a codec subclass that overrides encode is used for every message", async () => {
  let encodes = 0;
  class Counting extends MsgPackCodec {
    override encode(value: unknown): Uint8Array {
      encodes++;
      return super.encode(value);
    }
  }
  const [client, server] = channelPair(
    { codec: new Counting() },
    { codec: new Counting() },
  );
  const serving = serve(server, (content) => content);
  assert.equal(await client.send("hi"), "hi");
  assert.equal(encodes, 2, "the request and the reply");
  await client.close();
  await serving;
});

Deno.test("tryRecv takes what has arrived, in order, and lets a full queue read on", async () => {
  const [client, server] = channelPair({}, { maxQueuedRequests: 2 });
  assert.equal(server.tryRecv(), undefined);
  const count = 50;
  const replies = Array.from({ length: count }, (_, i) => client.send(i));
  const seen: unknown[] = [];
  while (seen.length < count) {
    const request = server.tryRecv() ?? await server.recv();
    seen.push(request.content);
    await request.reply(request.content);
  }
  assert.deepEqual(seen, Array.from({ length: count }, (_, i) => i));
  assert.deepEqual(await Promise.all(replies), seen);
  await client.close();
  await server.closed;
  assert.equal(server.tryRecv(), undefined);
});

Deno.test("close() waiting for a reply ends as soon as the peer goes away", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const client = new Channel(
    await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
  );
  const server = new Channel(await accepted);
  listener.close();
  const call = client.send("never answered");
  const request = await server.recv();
  const closing = server.close({ timeout: 60_000 });
  const rejected = assert.rejects(call, ConnectionClosedError);
  await client.close();
  await rejected;
  // Without noticing the peer leave, close() would wait out its 60 s.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), 5_000);
  });
  const outcome = await Promise.race([closing.then(() => "closed"), late]);
  clearTimeout(timer);
  assert.equal(outcome, "closed");
  await assert.rejects(request.reply("too late"), ConnectionClosedError);
});

Deno.test("close() ends on time while an in-process peer keeps writing", async () => {
  const [channel, raw] = rawPair();
  await raw.send([0, 0, "taken"]);
  await channel.recv();
  const closing = channel.close({ timeout: 50 });
  // The peer floods the closing channel, yielding only to microtasks.
  let flooding = true;
  const flood = (async () => {
    for (let id = 1; flooding; id++) await raw.send([0, id, "more"]);
  })().catch(() => {});
  await closing;
  flooding = false;
  await flood;
});

Deno.test("bad input while closing does not drop a reply still owed", async () => {
  const [channel, raw] = rawPair();
  await raw.send([0, 0, "question"]);
  const request = await channel.recv();
  const closing = channel.close({ timeout: 60_000 });
  await raw.write(frame(utf8.encode("{not json")));
  // A memory pipe holds no chunk: this write completes once the channel has
  // read again, so it has handled the bad frame by then.
  await raw.send([0, 1, "after"]).catch(() => {});
  await request.reply("answer");
  assert.deepEqual(await raw.read(), [1, 0, "answer"]);
  await closing;
  await raw.ended();
});
