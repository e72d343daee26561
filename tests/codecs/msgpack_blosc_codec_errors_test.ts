// MsgPackBloscCodec refusals, each a SerializationError: values it cannot
// encode, sizes over maxDecompressedSize, and cut, malformed or damaged frames.
import assert from "node:assert/strict";
import { MsgPackBloscCodec } from "../../codecs/mod.ts";
import { SerializationError } from "../../errors.ts";
import { fromNotation, hex, unhex } from "./_vectors.ts";
import {
  assertRejects,
  frameOf,
  random,
  vector,
  vectors,
} from "./_msgpack_blosc_codec_frames.ts";

/** A blosc 1.x header around `body`, with `cbytes` the real frame size. */
function frame(
  flags: number,
  typesize: number,
  nbytes: number,
  blocksize: number,
  body: Uint8Array,
): Uint8Array {
  const bytes = new Uint8Array(16 + body.length);
  const view = new DataView(bytes.buffer);
  bytes.set([2, 1, flags, typesize]);
  view.setUint32(4, nbytes, true);
  view.setUint32(8, blocksize, true);
  view.setUint32(12, bytes.length, true);
  bytes.set(body, 16);
  return bytes;
}

Deno.test("blosc: encoding errors reject the promise", async () => {
  await assertRejects(new MsgPackBloscCodec().encode(new Date(0)), "Date");
  await assertRejects(new MsgPackBloscCodec().encode(2n ** 64n), "2^64");
});

Deno.test("blosc: an nbytes header beyond maxDecompressedSize is refused", async () => {
  const bytes = frameOf("blosc-compressed-split-2406"); // nbytes 2406
  await assertRejects(
    new MsgPackBloscCodec({ maxDecompressedSize: 2405 }).decode(bytes),
    "limit 2405",
  );
  assert.ok(
    await new MsgPackBloscCodec({ maxDecompressedSize: 2406 }).decode(bytes),
  );
  // A small frame that claims 4 GiB, compressed or memcpy.
  for (const flags of [0x01, 0x11, 0x13]) {
    await assertRejects(
      new MsgPackBloscCodec().decode(
        frame(flags, 8, 0xffffffff, 0xffffffff, new Uint8Array(64)),
      ),
      `flags ${flags}`,
    );
  }
  // The default limit is 64 MiB.
  await assertRejects(
    new MsgPackBloscCodec().decode(
      frame(0x01, 8, 64 * 1024 * 1024 + 1, 1 << 20, new Uint8Array(64)),
    ),
    "64 MiB + 1",
  );
});

Deno.test("blosc: truncated and padded frames are a SerializationError", async () => {
  for (
    const name of [
      "msg-request",
      "blosc-compressed-nosplit-606",
      "blosc-compressed-split-2406",
    ]
  ) {
    const bytes = frameOf(name);
    for (let length = 0; length < bytes.length; length++) {
      await assertRejects(
        new MsgPackBloscCodec().decode(bytes.slice(0, length)),
        `${name} cut to ${length}`,
      );
    }
    await assertRejects(
      new MsgPackBloscCodec().decode(new Uint8Array([...bytes, 0])),
      `${name} + 1 byte`,
    );
  }
});

Deno.test("blosc: frames with an impossible header are a SerializationError", async () => {
  const body = new Uint8Array(64).fill(0x41);
  // Each with the reason it must be refused for: without the check for it,
  // a frame would fail later for another reason, or not at all.
  const bad: [string, Uint8Array, string][] = [
    [
      "not blosc",
      new TextEncoder().encode('[1, 0, "not a blosc frame"]'),
      "no blosc 1.x header",
    ],
    [
      "version 1",
      (() => {
        const bytes = frameOf("msg-request");
        bytes[0] = 1;
        return bytes;
      })(),
      "no blosc 1.x header",
    ],
    [
      "memcpy, nbytes larger than the data",
      frame(0x13, 8, 100, 100, new Uint8Array(10)),
      "a stored frame of 26 bytes cannot hold 100",
    ],
    [
      "memcpy, nbytes smaller than the data",
      frame(0x13, 8, 4, 4, new Uint8Array(10)),
      "a stored frame of 26 bytes cannot hold 4",
    ],
    [
      "compressed, blocksize 0",
      frame(0x01, 8, 100, 0, body),
      "block size or type size is 0",
    ],
    [
      "compressed, typesize 0",
      frame(0x01, 0, 100, 100, body),
      "block size or type size is 0",
    ],
    [
      "compressed, block table past the end",
      frame(0x11, 8, 100_000, 1, body),
      "no room for 100000 block offsets",
    ],
    [
      "compressed, block start past the end",
      frame(0x11, 8, 100, 100, new Uint8Array([0xff, 0, 0, 0])),
      "block 0 starts outside the frame",
    ],
    [
      "compressed, block start inside the header",
      frame(0x11, 8, 100, 100, new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0])),
      "block 0 starts outside the frame",
    ],
    [
      "compressed, stream size past the end",
      frame(0x11, 8, 100, 100, new Uint8Array([20, 0, 0, 0, 0xff, 0, 0, 0, 1])),
      "block 0 has a stream of 255 bytes",
    ],
    [
      "compressed, stream size 0",
      frame(0x11, 8, 100, 100, new Uint8Array([20, 0, 0, 0, 0, 0, 0, 0])),
      "block 0 has a stream of 0 bytes",
    ],
    [
      "compressed, stream size negative",
      frame(
        0x11,
        8,
        100,
        100,
        new Uint8Array([20, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]),
      ),
      "block 0 has a stream of -1 bytes",
    ],
    [
      "bit shuffle",
      frame(0x05, 8, 100, 100, body),
      "bit shuffle is not supported",
    ],
    [
      "delta filter",
      frame(0x09, 8, 100, 100, body),
      "the delta filter is not supported",
    ],
    [
      "lz4 compressor",
      frame(0x21, 8, 100, 100, body),
      "compressor 1 is not blosclz",
    ],
    [
      "zstd compressor",
      frame(0x81, 8, 100, 100, body),
      "compressor 4 is not blosclz",
    ],
    [
      "a garbage block table, split",
      frame(0x01, 8, 4000, 4000, new Uint8Array(200).fill(0x7f)),
      "block 0 starts outside the frame",
    ],
    [
      "garbage streams, not split",
      frame(
        0x11,
        8,
        1000,
        1000,
        new Uint8Array([
          20,
          0,
          0,
          0,
          36,
          0,
          0,
          0,
          ...new Uint8Array(36).fill(0xff),
        ]),
      ),
      "block 0 does not decompress to 1000 bytes",
    ],
  ];
  for (const [label, bytes, reason] of bad) {
    await assert.rejects(
      new MsgPackBloscCodec().decode(bytes),
      (error: unknown) => {
        assert.ok(error instanceof SerializationError, `${label}: ${error}`);
        assert.equal(
          error.message,
          `Cannot decode blosc frame: ${reason}`,
          label,
        );
        return true;
      },
    );
  }
});

Deno.test("blosc: a frame with damaged streams is refused, not decoded to stale or partial data", async () => {
  const codec = new MsgPackBloscCodec();
  const value = [1, 0, "secret password ".repeat(200)];
  const good = await codec.encode(value);
  assert.deepStrictEqual(await codec.decode(good), value);
  const view = new DataView(good.buffer, good.byteOffset, good.byteLength);
  const streams = view.getUint32(16, true); // the first block's first stream
  // Every stream's data replaced by 0xff, sizes kept.
  const garbage = good.slice();
  garbage.fill(0xff, streams + 4);
  await assertRejects(codec.decode(garbage), "streams overwritten");
  // A stream size one short: the streams after it are misaligned.
  const short = good.slice();
  new DataView(short.buffer).setInt32(
    streams,
    view.getInt32(streams, true) - 1,
    true,
  );
  await assertRejects(codec.decode(short), "stream size - 1");
  // And the real aiomas frames, damaged the same ways.
  for (
    const name of [
      "blosc-compressed-nosplit-606",
      "blosc-compressed-split-2406",
      "str-len-65536",
    ]
  ) {
    const bytes = frameOf(name);
    await new MsgPackBloscCodec().decode(bytes);
    const start = new DataView(bytes.buffer).getUint32(16, true);
    const damaged = bytes.slice();
    new DataView(damaged.buffer).setInt32(
      start,
      new DataView(bytes.buffer).getInt32(start, true) - 1,
      true,
    );
    await assertRejects(
      new MsgPackBloscCodec().decode(damaged),
      `${name}: stream size - 1`,
    );
  }
});

Deno.test("blosc: a damaged last block is refused, not filled from an earlier message", async () => {
  // With a decompressor that does not report errors, the block before is
  // decoded and the damaged one keeps what the output buffer held before:
  // the end of the previous message of the same size.
  const codec = new MsgPackBloscCodec();
  const secret = [1, 0, "secret password ".repeat(200)];
  const open = [1, 0, "public knowledge".repeat(200)];
  const openFrame = await codec.encode(open);
  const view = new DataView(
    openFrame.buffer,
    openFrame.byteOffset,
    openFrame.byteLength,
  );
  const blocks = Math.ceil(view.getUint32(4, true) / view.getUint32(8, true));
  assert.ok(blocks >= 2, "the frame has a leftover block");
  const last = view.getUint32(16 + 4 * (blocks - 1), true);
  const damaged = openFrame.slice();
  new DataView(damaged.buffer).setInt32(
    last,
    view.getInt32(last, true) - 1,
    true,
  );

  assert.deepStrictEqual(
    await codec.decode(await codec.encode(secret)),
    secret,
  );
  await assertRejects(codec.decode(damaged), "last block's stream size - 1");
  assert.deepStrictEqual(await codec.decode(openFrame), open);
});

Deno.test("blosc: mutated frames decode or fail with SerializationError, nothing else", async () => {
  const next = random(42);
  const frames = vectors.map((v) => unhex(v.payload_hex));
  const codec = new MsgPackBloscCodec();
  let rejected = 0;
  for (let i = 0; i < 3000; i++) {
    const bytes = frames[Math.floor(next() * frames.length)].slice();
    const changes = 1 + Math.floor(next() * 4);
    for (let k = 0; k < changes; k++) {
      // Mostly past the header (whose cbytes check catches nearly everything).
      const at = next() < 0.8 && bytes.length > 16
        ? 16 + Math.floor(next() * (bytes.length - 16))
        : Math.floor(next() * bytes.length);
      bytes[at] = Math.floor(next() * 256);
    }
    try {
      await codec.decode(bytes);
    } catch (error) {
      if (!(error instanceof SerializationError)) {
        throw new assert.AssertionError({
          message: `frame ${hex(bytes)} threw ${error}`,
        });
      }
      rejected++;
    }
  }
  assert.ok(rejected > 0);
  // The codec still works afterwards.
  assert.deepStrictEqual(await codec.decode(frameOf("msg-request")), [
    0,
    0,
    "ohai",
  ]);
  assert.deepStrictEqual(
    await codec.decode(frameOf("blosc-compressed-split-2406")),
    fromNotation(vector("blosc-compressed-split-2406").value),
  );
});
