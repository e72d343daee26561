import assert from "node:assert/strict";
import { concat, frame } from "../_frames.ts";
import {
  FrameDecoderStream,
  FrameEncoderStream,
  type Message,
  MessageDecoderStream,
  MessageEncoderStream,
} from "../../channel/mod.ts";
import {
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";
import { ProtocolError, SerializationError } from "../../errors.ts";
import { FrameParser } from "../../channel/_frame_parser.ts";

const utf8 = new TextEncoder();

/** Payloads of assorted sizes; byte values depend on the position so mix-ups show. */
function payloads(): Uint8Array[] {
  return [1, 2, 5, 255, 256, 300].map((size, n) =>
    Uint8Array.from({ length: size }, (_, i) => (i * 7 + n * 31) & 0xff)
  );
}

/** Decodes `chunks` with a FrameDecoderStream and returns plain copies of the payloads. */
async function decodeChunks(
  chunks: readonly Uint8Array[],
  maxFrameSize?: number,
): Promise<number[][]> {
  const frames = ReadableStream.from(chunks).pipeThrough(
    new FrameDecoderStream({ maxFrameSize }),
  );
  return (await Array.fromAsync(frames)).map((p) => Array.from(p));
}

/** A tiny deterministic PRNG (mulberry32), so that failures reproduce. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function isProtocolError(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(
      error instanceof ProtocolError,
      `expected a ProtocolError, got ${error}`,
    );
    assert.match(error.message, pattern);
    return true;
  };
}

Deno.test("FrameDecoderStream: all frames in one chunk", async () => {
  const expected = payloads();
  const got = await decodeChunks([concat(expected.map(frame))]);
  assert.deepEqual(got, expected.map((p) => Array.from(p)));
});

Deno.test("FrameDecoderStream: one frame per chunk", async () => {
  const expected = payloads();
  const got = await decodeChunks(expected.map(frame));
  assert.deepEqual(got, expected.map((p) => Array.from(p)));
});

Deno.test("FrameDecoderStream: fed byte by byte", async () => {
  const expected = payloads();
  const bytes = concat(expected.map(frame));
  const got = await decodeChunks(Array.from(bytes, (b) => new Uint8Array([b])));
  assert.deepEqual(got, expected.map((p) => Array.from(p)));
});

Deno.test("FrameDecoderStream: split into two chunks at every offset", async () => {
  const expected = payloads().slice(0, 4).map((p) => Array.from(p));
  const bytes = concat(payloads().slice(0, 4).map(frame));
  for (let i = 0; i <= bytes.length; i++) {
    const got = await decodeChunks([bytes.subarray(0, i), bytes.subarray(i)]);
    assert.deepEqual(got, expected, `split at ${i}`);
  }
});

Deno.test("FrameDecoderStream: split into three chunks at every pair of offsets", async () => {
  const small = [utf8.encode("a"), utf8.encode("hello"), utf8.encode("xy")];
  const expected = small.map((p) => Array.from(p));
  const bytes = concat(small.map(frame));
  for (let i = 0; i <= bytes.length; i++) {
    for (let j = i; j <= bytes.length; j++) {
      const chunks = [
        bytes.subarray(0, i),
        bytes.subarray(i, j),
        bytes.subarray(j),
      ];
      assert.deepEqual(
        await decodeChunks(chunks),
        expected,
        `split at ${i}, ${j}`,
      );
    }
  }
});

Deno.test("FrameDecoderStream: random chunking of many frames", async () => {
  const random = prng(42);
  const expected = Array.from(
    { length: 200 },
    (_, n) =>
      Uint8Array.from(
        { length: 1 + Math.floor(random() * 600) },
        (_, i) => (i + n) & 0xff,
      ),
  );
  const bytes = concat(expected.map(frame));
  const chunks: Uint8Array[] = [];
  for (let pos = 0; pos < bytes.length;) {
    const size = Math.floor(random() * 900);
    chunks.push(bytes.subarray(pos, pos + size));
    pos += size;
  }
  assert.deepEqual(
    await decodeChunks(chunks),
    expected.map((p) => Array.from(p)),
  );
});

Deno.test("FrameDecoderStream: a frame of exactly maxFrameSize is accepted", async () => {
  const payload = new Uint8Array(16).fill(9);
  assert.deepEqual(await decodeChunks([frame(payload)], 16), [
    Array.from(payload),
  ]);
});

Deno.test("FrameDecoderStream: a header above maxFrameSize errors with ProtocolError", async () => {
  await assert.rejects(
    decodeChunks([frame(new Uint8Array(17))], 16),
    isProtocolError(/length 17 exceeds maxFrameSize 16/),
  );
  // The header alone is enough: the payload never has to arrive.
  await assert.rejects(
    decodeChunks([new Uint8Array([0, 0, 0, 17])], 16),
    isProtocolError(/length 17 exceeds maxFrameSize 16/),
  );
  // Also when the header itself is split across chunks.
  await assert.rejects(
    decodeChunks([new Uint8Array([0, 0]), new Uint8Array([0, 17])], 16),
    isProtocolError(/length 17 exceeds maxFrameSize 16/),
  );
});

Deno.test("FrameDecoderStream: a 0xffffffff header errors at once without allocating", async () => {
  const stream = new FrameDecoderStream();
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  const before = Deno.memoryUsage().external;
  // Reading lifts the readable side's backpressure, so the chunk is transformed.
  const reading = reader.read();
  // The header is judged on its own: the write (not the end of the stream) fails.
  await assert.rejects(
    writer.write(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3])),
    isProtocolError(/length 4294967295 exceeds maxFrameSize 16777216/),
  );
  await assert.rejects(
    reading,
    isProtocolError(/length 4294967295 exceeds maxFrameSize/),
  );
  const grown = Deno.memoryUsage().external - before;
  assert.ok(grown < 16 * 1024 * 1024, `external memory grew by ${grown} bytes`);
  await assert.rejects(writer.closed, ProtocolError);
  await assert.rejects(reader.closed, ProtocolError);
});

Deno.test("FrameDecoderStream: a 0-length frame is a ProtocolError", async () => {
  await assert.rejects(
    decodeChunks([new Uint8Array([0, 0, 0, 0])]),
    isProtocolError(/length 0/),
  );
  // Also after good frames in the same chunk.
  await assert.rejects(
    decodeChunks([concat([frame(utf8.encode("ok")), new Uint8Array(4)])]),
    isProtocolError(/length 0/),
  );
});

Deno.test("FrameDecoderStream: maxFrameSize must be a whole number from 1 up (NaN turned the limit off)", () => {
  for (const maxFrameSize of [NaN, 0, -1, 2.5]) {
    assert.throws(
      () => new FrameDecoderStream({ maxFrameSize }),
      RangeError,
      String(maxFrameSize),
    );
  }
  new FrameDecoderStream({ maxFrameSize: 1 });
});

Deno.test("FrameDecoderStream: a stream ending inside a frame is a ProtocolError", async () => {
  await assert.rejects(
    decodeChunks([new Uint8Array([0, 0])]),
    isProtocolError(/ended inside a frame \(2 of 4 header bytes\)/),
  );
  await assert.rejects(
    decodeChunks([new Uint8Array([0, 0, 0, 5, 1, 2])]),
    isProtocolError(/ended inside a frame \(2 of 5 payload bytes\)/),
  );
  await assert.rejects(
    decodeChunks([
      concat([frame(utf8.encode("ok")), new Uint8Array([0, 0, 0, 3])]),
    ]),
    isProtocolError(/ended inside a frame/),
  );
  // An empty stream and a stream ending between frames are fine.
  assert.deepEqual(await decodeChunks([]), []);
  assert.deepEqual(await decodeChunks([new Uint8Array(0)]), []);
});

Deno.test("FrameEncoderStream: prefixes each payload with its big-endian length", async () => {
  const big = new Uint8Array(0x10203).fill(7);
  const chunks = await Array.fromAsync(
    ReadableStream.from([utf8.encode("hi"), new Uint8Array([1]), big])
      .pipeThrough(new FrameEncoderStream()),
  );
  assert.equal(chunks.length, 3);
  assert.deepEqual(Array.from(chunks[0]), [0, 0, 0, 2, 104, 105]);
  assert.deepEqual(Array.from(chunks[1]), [0, 0, 0, 1, 1]);
  assert.deepEqual(Array.from(chunks[2].subarray(0, 4)), [0, 1, 2, 3]);
  assert.equal(chunks[2].length, 4 + big.length);
  assert.deepEqual(chunks[2].subarray(4), big);
});

Deno.test("FrameEncoderStream: an empty payload errors the stream with RangeError", async () => {
  await assert.rejects(
    Array.fromAsync(
      ReadableStream.from([new Uint8Array(0)]).pipeThrough(
        new FrameEncoderStream(),
      ),
    ),
    RangeError,
  );
});

Deno.test("FrameEncoderStream: a payload that is not bytes errors the stream with a TypeError", async () => {
  for (const payload of ["hi", [1, 2, 300], new ArrayBuffer(2)]) {
    await assert.rejects(
      Array.fromAsync(
        ReadableStream.from([payload as unknown as Uint8Array]).pipeThrough(
          new FrameEncoderStream(),
        ),
      ),
      (error: Error) => {
        assert.ok(error instanceof TypeError, String(error));
        assert.match(error.message, /^Cannot encode frame: the payload is /);
        return true;
      },
    );
  }
});

Deno.test("FrameEncoderStream → FrameDecoderStream round trip", async () => {
  const random = prng(7);
  const expected = [
    ...payloads(),
    new Uint8Array(70_000).map((_, i) => i % 251),
    ...Array.from(
      { length: 100 },
      () =>
        Uint8Array.from(
          { length: 1 + Math.floor(random() * 100) },
          () => random() * 256,
        ),
    ),
  ];
  // Re-chunk the encoded bytes at random sizes in between.
  const rechunk = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      for (let pos = 0; pos < chunk.length;) {
        const size = 1 + Math.floor(random() * 50);
        controller.enqueue(chunk.slice(pos, pos + size));
        pos += size;
      }
    },
  });
  const got = await Array.fromAsync(
    ReadableStream.from(expected)
      .pipeThrough(new FrameEncoderStream())
      .pipeThrough(rechunk)
      .pipeThrough(new FrameDecoderStream()),
  );
  assert.deepEqual(
    got.map((p) => Array.from(p)),
    expected.map((p) => Array.from(p)),
  );
});

const messages: Message[] = [
  [0, 0, "ohai"],
  [0, 1, ["add", [3, 4], {}]],
  [1, 0, { nested: [1, 2.5, null, true, "ü"] }],
  [2, 1, "Traceback (most recent call last):\nValueError: 42\n"],
];

for (const Codec of [JsonCodec, MsgPackCodec, MsgPackBloscCodec]) {
  Deno.test(`MessageEncoderStream → MessageDecoderStream round trip (${Codec.name})`, async () => {
    const got = await Array.fromAsync(
      ReadableStream.from(messages)
        .pipeThrough(new MessageEncoderStream(new Codec()))
        .pipeThrough(new FrameEncoderStream())
        .pipeThrough(new FrameDecoderStream())
        .pipeThrough(new MessageDecoderStream(new Codec())),
    );
    assert.deepEqual(got, messages);
  });
}

Deno.test("MessageEncoderStream: JSON payloads are the codec's bytes", async () => {
  const payloads = await Array.fromAsync(
    ReadableStream.from<Message>([[0, 0, "ohai"], [1, 0, [1, 2]]])
      .pipeThrough(new MessageEncoderStream()),
  );
  assert.deepEqual(
    payloads.map((p) => new TextDecoder().decode(p)),
    ['[0,0,"ohai"]', "[1,0,[1,2]]"],
  );
});

Deno.test("MessageEncoderStream: an unencodable message errors with SerializationError", async () => {
  await assert.rejects(
    Array.fromAsync(
      ReadableStream.from<Message>([[1, 0, new Uint8Array(1)]])
        .pipeThrough(new MessageEncoderStream(new JsonCodec())),
    ),
    SerializationError,
  );
  class Opaque {}
  await assert.rejects(
    Array.fromAsync(
      ReadableStream.from<Message>([[1, 0, new Opaque()]])
        .pipeThrough(new MessageEncoderStream(new MsgPackCodec())),
    ),
    SerializationError,
  );
});

async function decodePayload(
  codec: JsonCodec | MsgPackCodec,
  payload: Uint8Array,
): Promise<Message[]> {
  return await Array.fromAsync(
    ReadableStream.from([payload]).pipeThrough(new MessageDecoderStream(codec)),
  );
}

Deno.test("MessageDecoderStream: bad JSON payloads are ProtocolErrors", async () => {
  const json = (text: string) => utf8.encode(text);
  const cases: [Uint8Array, RegExp][] = [
    [json("not json"), /Cannot decode message/],
    [json("[0, 0, "), /Cannot decode message/],
    [new Uint8Array([0x5b, 0xff, 0x5d]), /Cannot decode message/], // not UTF-8
    [json('{"a": 1}'), /expected a \[type, id, content\] array/],
    [json("[1, 2]"), /expected a \[type, id, content\] array/],
    [json("[0, 0, 1, 2]"), /expected a \[type, id, content\] array/],
    [json('"str"'), /expected a \[type, id, content\] array/],
    [json("[7, 0, null]"), /unknown message type 7/],
    [json('["0", 0, null]'), /unknown message type "0"/],
    [json('[0, 0, {"__type__": [0, 1]}]'), /Cannot decode message.*typeid 0/],
  ];
  for (const [payload, pattern] of cases) {
    await assert.rejects(
      decodePayload(new JsonCodec(), payload),
      isProtocolError(pattern),
      new TextDecoder().decode(payload),
    );
  }
});

Deno.test("MessageDecoderStream: bad MsgPack payloads are ProtocolErrors", async () => {
  const packer = new MsgPackCodec();
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array([0xc1]), /Cannot decode message/], // never used
    [new Uint8Array([0x93, 0x00]), /Cannot decode message/], // truncated
    [
      packer.encode([1, 2]) as Uint8Array,
      /expected a \[type, id, content\] array/,
    ],
    [packer.encode([7, 0, null]) as Uint8Array, /unknown message type 7/],
    [
      packer.encode({ a: 1 }) as Uint8Array,
      /expected a \[type, id, content\] array/,
    ],
  ];
  for (const [payload, pattern] of cases) {
    await assert.rejects(
      decodePayload(new MsgPackCodec(), payload),
      isProtocolError(pattern),
      String(Array.from(payload)),
    );
  }
});

Deno.test("FrameParser: only the first `end` bytes of a reused buffer count", () => {
  const parser = new FrameParser();
  const frames: Uint8Array[] = [];
  const buffer = new Uint8Array(64).fill(0xee);
  // Two whole frames and the first 3 bytes of a third; stale bytes after.
  const bytes = concat([frame(utf8.encode("ab")), frame(utf8.encode("cde"))]);
  const third = frame(utf8.encode("fghij"));
  buffer.set(bytes);
  buffer.set(third.subarray(0, 3), bytes.length);
  parser.push(buffer, frames, bytes.length + 3);
  assert.deepEqual(frames.map((f) => new TextDecoder().decode(f)), [
    "ab",
    "cde",
  ]);
  assert.equal(parser.partial, true);
  // Frames are views: they are used before the buffer is read into again,
  // here with the rest of the third frame.
  frames.length = 0;
  buffer.fill(0xee);
  buffer.set(third.subarray(3));
  parser.push(buffer, frames, third.length - 3);
  assert.deepEqual(frames.map((f) => new TextDecoder().decode(f)), ["fghij"]);
  assert.equal(parser.partial, false);
});
