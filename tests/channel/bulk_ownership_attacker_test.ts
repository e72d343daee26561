// Who owns the bytes when a peer attacks: a large frame sent in awkward
// pieces arrives whole, and what it holds stays within the frame and the
// partial frame budget. Over a conn-like transport fed by the test, MsgPack.
import assert from "node:assert/strict";
import {
  Channel,
  partialFrameBudget,
  type Request,
  setPartialFrameBudget,
  type Transport,
} from "../../channel/mod.ts";
import { MsgPackCodec } from "../../codecs/mod.ts";
import { ProtocolError } from "../../errors.ts";
import {
  assertSame,
  DIRECT,
  KiB,
  LARGE,
  MiB,
  pattern,
} from "./_bulk_ownership_bytes.ts";

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
