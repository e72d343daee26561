// Who owns the bytes, end to end through channels: received byte strings
// (views of their frame) stay valid while more frames arrive, a caller's
// buffer is neither changed nor detached by sending it, reused buffers
// never show one message's bytes in another, and a peer sending a large
// frame in awkward pieces gets the right frame within the partial frame
// budget. Over memory pairs (stream and conn-like), a MessagePort, TCP and
// a Unix socket, with all three codecs.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { TRANSPORTS } from "./_pairs.ts";
import {
  Channel,
  partialFrameBudget,
  type Request,
  setPartialFrameBudget,
  type Transport,
} from "../../channel/mod.ts";
import {
  type CodecClass,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";
import { ProtocolError } from "../../errors.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
/** The size from which MsgPack byte strings stay out of the codec's buffer. */
const LARGE = 64 * KiB;
/**
 * Frames up to this size are copied whole into the writer's batch (pooled
 * buffers of 256 KiB); larger ones are written with their byte strings as
 * chunks of their own.
 */
const COPY = 128 * KiB;
/** The size from which a frame's remainder is read straight into its buffer. */
const DIRECT = 16 * KiB;
const SIZES = [
  LARGE - 1,
  LARGE,
  DIRECT + 1,
  DIRECT - 1,
  MiB,
  5,
  COPY - 16,
  COPY + 1,
];

/** Bytes that differ from position to position (and from seed to seed). */
function pattern(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = (seed * 0x9e3779b9) | 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x;
  }
  return bytes;
}

/** Compressible bytes: a short run depending on the seed, repeated. */
function runs(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (seed + (i >> 6)) % 7;
  return bytes;
}

interface CodecCase {
  name: string;
  codec: CodecClass;
  /** A payload of about `size` bytes for this codec. */
  payload(size: number, seed: number): unknown;
}

const letters = new TextDecoder();
const CODECS: CodecCase[] = [
  {
    name: "JSON",
    codec: JsonCodec,
    // JSON carries bulk data as strings.
    payload: (size, seed) =>
      letters.decode(pattern(size, seed).map((b) => 0x61 + (b % 26))),
  },
  { name: "MsgPack", codec: MsgPackCodec, payload: pattern },
  {
    name: "MsgPack+Blosc (incompressible)",
    codec: MsgPackBloscCodec,
    payload: pattern,
  },
  {
    name: "MsgPack+Blosc (compressible)",
    codec: MsgPackBloscCodec,
    payload: runs,
  },
];

/** A deep copy of a payload, to compare with later. */
function snapshot(value: unknown): unknown {
  return value instanceof Uint8Array ? value.slice() : value;
}

/** Fails if `actual` differs from `expected` in any byte or in length. */
function assertSame(actual: unknown, expected: unknown, what: string): void {
  if (expected instanceof Uint8Array) {
    assert.ok(actual instanceof Uint8Array, `${what}: not bytes`);
    assert.equal(actual.byteLength, expected.byteLength, `${what}: length`);
    assert.ok(
      Buffer.compare(actual, expected) === 0,
      `${what}: bytes differ`,
    );
  } else {
    assert.deepEqual(actual, expected, what);
  }
}

/** Answers every request of `channel` with `answer(request)` until it closes. */
async function serve(
  channel: Channel,
  answer: (request: Request) => unknown,
): Promise<void> {
  for await (const request of channel) {
    await request.reply(await answer(request));
  }
}

for (const [transportName, makePair] of Object.entries(TRANSPORTS)) {
  for (const { name, codec, payload } of CODECS) {
    const label = `bulk ownership (${transportName}, ${name})`;

    Deno.test(`${label}: received bytes stay valid and unchanged while later frames arrive`, async () => {
      await using pair = await makePair(codec);
      const kept: unknown[] = [];
      const serving = serve(pair.server, (request) => {
        kept.push(request.content);
        // Reply with other bytes than the request's, of the same size.
        const size = request.content instanceof Uint8Array
          ? request.content.length
          : (request.content as string).length;
        return payload(size, kept.length + 5000);
      });
      const replies: unknown[] = [];
      for (let round = 0; round < 2; round++) {
        for (const [i, size] of SIZES.entries()) {
          replies.push(
            await pair.client.send(payload(size, round * 100 + i + 1)),
          );
        }
      }
      if (codec === MsgPackCodec) {
        // The 1 MiB bins came in assembled frames: they are views of them,
        // so this test covers the view path (a copy would pass trivially).
        const at = SIZES.indexOf(MiB);
        for (const bin of [kept[at], replies[at]] as Uint8Array[]) {
          assert.ok(bin.buffer.byteLength > bin.length, "a view of its frame");
        }
      }
      // Every reference taken first is checked after all later frames.
      for (const [i, size] of [...SIZES, ...SIZES].entries()) {
        const round = i < SIZES.length ? 0 : 1;
        const seed = round * 100 + (i % SIZES.length) + 1;
        assertSame(kept[i], payload(size, seed), `request ${i}`);
        assertSame(replies[i], payload(size, i + 1 + 5000), `reply ${i}`);
      }
      await pair.client.close();
      await serving;
    });

    Deno.test(`${label}: a caller's buffer is neither changed nor detached by send or reply`, async () => {
      await using pair = await makePair(codec);
      const replied: { sent: unknown; copy: unknown }[] = [];
      const serving = serve(pair.server, (request) => {
        const out = payload(
          request.content instanceof Uint8Array
            ? request.content.length
            : (request.content as string).length,
          replied.length + 900,
        );
        replied.push({ sent: out, copy: snapshot(out) });
        return out;
      });
      for (const [i, size] of SIZES.entries()) {
        const sent = payload(size, i + 300);
        const copy = snapshot(sent);
        const reply = await pair.client.send(sent);
        assertSame(sent, copy, `sent buffer ${i} after send`);
        assertSame(reply, payload(size, i + 900), `reply ${i}`);
        // The reply the server handed over stays its own, unchanged.
        assertSame(replied[i].sent, replied[i].copy, `reply buffer ${i}`);
      }
      // A view into a larger buffer: the bytes around it are untouched too.
      if (codec !== JsonCodec) {
        const whole = payload(LARGE * 3, 77) as Uint8Array;
        const copy = whole.slice();
        const view = whole.subarray(LARGE / 2, LARGE / 2 + LARGE + 3);
        const reply = await pair.client.send(view);
        assert.equal(whole.byteLength, LARGE * 3);
        assertSame(whole, copy, "the buffer around the view");
        assertSame(
          view,
          copy.subarray(LARGE / 2, LARGE / 2 + LARGE + 3),
          "view",
        );
        assert.equal((reply as Uint8Array).length, LARGE + 3);
      }
      await pair.client.close();
      await serving;
    });

    Deno.test(`${label}: reused buffers never carry one message's bytes into another, 8 calls in flight`, async () => {
      await using pair = await makePair(codec);
      const serving = serve(pair.server, (request) => {
        const [size, seed, body] = request.content as [number, number, unknown];
        assertSame(body, payload(size, seed), `request ${seed}`);
        return [size, seed, payload(size, seed + 7000)];
      });
      const mixed = [
        LARGE,
        3,
        MiB,
        DIRECT + 1,
        LARGE - 1,
        100,
        2 * LARGE + 7,
        1,
        COPY - 16,
        COPY + 1,
      ];
      for (let round = 0; round < 3; round++) {
        const calls = mixed.map((size, i) => {
          const seed = round * 1000 + i + 1;
          return pair.client.send([size, seed, payload(size, seed)]);
        });
        for (const [i, reply] of (await Promise.all(calls)).entries()) {
          const seed = round * 1000 + i + 1;
          const [size, echoed, body] = reply as [number, number, unknown];
          assert.deepEqual([size, echoed], [mixed[i], seed]);
          assertSame(body, payload(mixed[i], seed + 7000), `reply ${seed}`);
        }
        // Alternate large, small, large with another fill, one at a time.
        for (
          const [j, size] of [MiB, 2, LARGE, 1, COPY - 16, 3, MiB].entries()
        ) {
          const seed = round * 1000 + 500 + j;
          const reply = await pair.client.send([
            size,
            seed,
            payload(size, seed),
          ]);
          assertSame(
            (reply as unknown[])[2],
            payload(size, seed + 7000),
            `serial ${seed}`,
          );
        }
      }
      await pair.client.close();
      await serving;
    });
  }

  for (const { name, codec, payload } of CODECS.slice(1)) {
    Deno.test(`bulk ownership (${transportName}, ${name}): several large byte strings nested in arrays and maps round-trip exactly`, async () => {
      await using pair = await makePair(codec);
      const serving = serve(pair.server, (request) => request.content);
      const value = {
        a: payload(LARGE, 1),
        text: "between",
        list: [payload(LARGE - 1, 2), "x".repeat(70_000), payload(MiB, 3)],
        map: {
          inner: [payload(2 * LARGE + 1, 4), { deep: payload(LARGE, 5) }],
        },
        small: payload(10, 6),
      };
      const copy = structuredClone(value);
      const first = await pair.client.send(value);
      const second = await pair.client.send([payload(MiB, 9), "after"]);
      assert.deepEqual(value, copy, "the sent value is unchanged");
      assert.deepEqual(first, copy);
      assert.deepEqual(second, [payload(MiB, 9), "after"]);
      await pair.client.close();
      await serving;
    });
  }
}

// The attacker's view: a transport whose bytes the test hands over piece by
// piece, knowing when the channel has taken them all (it asks for more).

/** A conn-like transport fed by the test; writes are dropped. */
function fedTransport() {
  let pending: Uint8Array = new Uint8Array(0);
  let waiter: {
    buffer: Uint8Array;
    resolve: (n: number | null) => void;
  } | null = null;
  let drained = Promise.withResolvers<void>();
  let closed = false;
  function give(buffer: Uint8Array): number {
    const n = Math.min(buffer.length, pending.length);
    buffer.set(pending.subarray(0, n));
    pending = pending.subarray(n);
    return n;
  }
  const transport: Transport = {
    get readable(): ReadableStream<Uint8Array> {
      throw new Error("readable must not be used when read is given");
    },
    get writable(): WritableStream<Uint8Array> {
      throw new Error("writable must not be used when write is given");
    },
    read(buffer) {
      if (closed) return Promise.resolve(null);
      if (pending.length > 0) return Promise.resolve(give(buffer));
      drained.resolve();
      return new Promise((resolve) => waiter = { buffer, resolve });
    },
    write(bytes) {
      return Promise.resolve(bytes.length);
    },
    close() {
      closed = true;
      waiter?.resolve(null);
      waiter = null;
      drained.resolve();
    },
  };
  return {
    transport,
    /** Hands `bytes` over; resolves once the channel has read all of them. */
    async feed(bytes: Uint8Array): Promise<void> {
      drained = Promise.withResolvers<void>();
      pending = bytes;
      if (waiter !== null) {
        const w = waiter;
        waiter = null;
        w.resolve(give(w.buffer));
      }
      await drained.promise;
    },
  };
}

/**
 * Feeds the piece that completes a frame and takes the request, answering
 * it: the channel may wait for requests to be taken and answered (their
 * backpressure) before it reads again.
 */
async function last(
  fed: ReturnType<typeof fedTransport>,
  channel: Channel,
  piece: Uint8Array,
): Promise<Request> {
  const [, request] = await Promise.all([
    fed.feed(piece),
    channel.recv().then(async (request) => {
      await request.reply(null);
      return request;
    }),
  ]);
  return request;
}

function header(length: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, length);
  return bytes;
}

/** A request frame `[0, id, bin]`, MsgPack, written by hand. */
function requestFrame(id: number, bin: Uint8Array): Uint8Array {
  const body = new Uint8Array(3 + 5 + bin.length);
  body.set([0x93, 0x00, id, 0xc6], 0);
  new DataView(body.buffer).setUint32(4, bin.length);
  body.set(bin, 8);
  const out = new Uint8Array(4 + body.length);
  out.set(header(body.length));
  out.set(body, 4);
  return out;
}

Deno.test("bulk ownership (attacker): a large frame sent byte by byte arrives whole; held bytes stay within the frame", async () => {
  const before = partialFrameBudget().held;
  const fed = fedTransport();
  await using channel = new Channel(fed.transport, {
    codec: new MsgPackCodec(),
  });
  const bin = pattern(LARGE + 10, 31);
  const frame = requestFrame(1, bin);
  for (let i = 0; i < frame.length - 1; i++) {
    await fed.feed(frame.subarray(i, i + 1));
    const held = partialFrameBudget().held - before;
    assert.ok(held <= frame.length, `${held} held after ${i + 1} bytes`);
  }
  const request = await last(fed, channel, frame.subarray(frame.length - 1));
  assertSame(request.content, bin, "the frame sent byte by byte");
  assert.equal(partialFrameBudget().held, before);
});

Deno.test("bulk ownership (attacker): a 1 MiB frame in pieces of 16 KiB + 1 and split at awkward places arrives whole", async () => {
  const before = partialFrameBudget().held;
  const fed = fedTransport();
  await using channel = new Channel(fed.transport, {
    codec: new MsgPackCodec(),
  });
  const bin = pattern(MiB, 41);
  const frame = requestFrame(2, bin);
  let at = 0;
  for (; at + DIRECT + 1 < frame.length; at += DIRECT + 1) {
    await fed.feed(frame.subarray(at, at + DIRECT + 1));
  }
  const whole = await last(fed, channel, frame.subarray(at));
  assertSame(whole.content, bin, "16 KiB + 1 pieces");
  const small = pattern(LARGE + 3, 42);
  const smallFrame = requestFrame(3, small);
  const cuts = [
    1,
    3,
    4,
    5,
    12,
    13,
    DIRECT - 1,
    DIRECT,
    DIRECT + 1,
    DIRECT + 4,
    Math.floor(smallFrame.length / 4),
    smallFrame.length - 1,
  ];
  for (const cut of cuts) {
    await fed.feed(smallFrame.subarray(0, cut));
    const request = await last(fed, channel, smallFrame.subarray(cut));
    assertSame(request.content, small, `split at ${cut}`);
  }
  // Two frames in one piece, the second cut inside its header.
  const both = new Uint8Array(smallFrame.length * 2);
  both.set(smallFrame);
  both.set(smallFrame, smallFrame.length);
  const first = await last(
    fed,
    channel,
    both.subarray(0, smallFrame.length + 2),
  );
  assertSame(first.content, small, "first of two");
  await fed.feed(both.subarray(smallFrame.length + 2));
  assertSame((await channel.recv()).content, small, "second of two");
  assert.equal(partialFrameBudget().held, before);
});

Deno.test("bulk ownership (attacker): a frame declared 1 GiB whose bytes never come holds only what grows with the bytes received", async () => {
  const before = partialFrameBudget().held;
  const fed = fedTransport();
  const channel = new Channel(fed.transport, {
    codec: new MsgPackCodec(),
    maxFrameSize: 1024 * MiB,
  });
  await fed.feed(header(1024 * MiB));
  let received = 0;
  for (let i = 0; i < 8; i++) {
    await fed.feed(new Uint8Array(DIRECT + 1).fill(i));
    received += DIRECT + 1;
    const held = partialFrameBudget().held - before;
    assert.ok(held >= received, `${held} held for ${received} received`);
    assert.ok(
      held <= Math.max(4 * received, received + 64 * KiB),
      `${held} held for ${received} received`,
    );
  }
  await channel.close({ timeout: 0 });
  await channel.closed.catch(() => {});
  assert.equal(partialFrameBudget().held, before);
});

Deno.test("bulk ownership (attacker): a large frame fed in 16 KiB + 1 pieces is cut by the partial frame budget, never holding more than it", async () => {
  const previous = setPartialFrameBudget(100 * KiB);
  const before = partialFrameBudget().held;
  const cutsBefore = partialFrameBudget().cuts;
  const fed = fedTransport();
  const channel = new Channel(fed.transport, {
    codec: new MsgPackCodec(),
    peer: "feeder",
  });
  const closed = channel.closed.then(() => null, (error) => error);
  try {
    await fed.feed(header(MiB));
    for (let i = 0; i < 16 && !channel.isClosed; i++) {
      await Promise.race([fed.feed(new Uint8Array(DIRECT + 1)), closed]);
      const held = partialFrameBudget().held - before;
      assert.ok(held <= 100 * KiB, `${held} held, above the budget`);
    }
    const error = await closed;
    assert.ok(error instanceof ProtocolError, String(error));
    assert.match(error.message, /from feeder: .*setPartialFrameBudget/);
    assert.equal(partialFrameBudget().cuts, cutsBefore + 1);
  } finally {
    setPartialFrameBudget(previous);
    await channel.close({ timeout: 0 });
    await closed;
  }
  assert.equal(partialFrameBudget().held, before);
});
