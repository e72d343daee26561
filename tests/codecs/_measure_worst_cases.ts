/**
 * Not a test: measures how long the worst frames take to decode (or to be
 * refused) with the default maxDecodedSize, and the heap they leave, at
 * full size (frames up to the default maxFrameSize, 64 MiB).
 *
 * Run: deno run --v8-flags=--expose-gc --allow-read tests/codecs/_measure_worst_cases.ts [filter]
 */
import {
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";
import {
  compressRuns,
  compressSingleRun,
  compressStored,
} from "./_blosc_frames.ts";

const MiB = 1024 * 1024;
const FRAME = 64 * MiB;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

function array32(count: number, item: number, itemSize = 1): Uint8Array {
  const frame = new Uint8Array(5 + count * itemSize).fill(item);
  frame.set([
    0xdd,
    count >>> 24,
    (count >> 16) & 255,
    (count >> 8) & 255,
    count & 255,
  ]);
  return frame;
}

/** array32 of `outer` array16s of 65535 `item` bytes: no single header declares too much. */
function chunked(outer: number, item: number): Uint8Array {
  const inner = 65535;
  const frame = new Uint8Array(5 + outer * (3 + inner)).fill(item);
  frame.set([
    0xdd,
    outer >>> 24,
    (outer >> 16) & 255,
    (outer >> 8) & 255,
    outer & 255,
  ]);
  for (let i = 0; i < outer; i++) {
    frame.set([0xdc, 0xff, 0xff], 5 + i * (3 + inner));
  }
  return frame;
}

function repeatText(
  head: string,
  item: string,
  sep: string,
  tail: string,
  size: number,
): Uint8Array {
  const count = Math.floor(
    (size - head.length - tail.length) / (item.length + sep.length),
  );
  return new TextEncoder().encode(
    head + Array(count).fill(item).join(sep) + tail,
  );
}

interface Case {
  name: string;
  make: () => Uint8Array | Promise<Uint8Array>;
  codec: { decode(data: Uint8Array): unknown };
}

const msgpack = new MsgPackCodec();
const json = new JsonCodec();
const blosc = new MsgPackBloscCodec();

const cases: Case[] = [
  {
    name: "msgpack array32 of 64 M empty maps (64 MiB)",
    make: () => array32(FRAME - 5, 0x80),
    codec: msgpack,
  },
  {
    name: "msgpack 1024 × array16 of 65535 empty maps (64 MiB)",
    make: () => chunked(1024, 0x80),
    codec: msgpack,
  },
  {
    name: "msgpack 1 M empty maps, just under the budget (1 MiB)",
    make: () => array32(1_064_959, 0x80),
    codec: msgpack,
  },
  {
    name: "msgpack 8 M zeros, just under the budget (8 MiB)",
    make: () => array32(8_519_673, 0x00),
    codec: msgpack,
  },
  {
    name: "msgpack 2.7 M one-char strings, just under the budget (5 MiB)",
    make: () =>
      array32(2_726_295, 0xa1, 2).map((
        b,
        i,
      ) => (i >= 5 && i % 2 === 0 ? 0x61 : b)),
    codec: msgpack,
  },
  {
    name: "msgpack 320 K Maps {0: 0} (0.9 MiB)",
    make: () => {
      const n = 327_679;
      const f = array32(n, 0, 3);
      for (let i = 0; i < n; i++) f[5 + 3 * i] = 0x81;
      return f;
    },
    codec: msgpack,
  },
  {
    name: "msgpack one 64 MiB bin",
    make: () => {
      const f = new Uint8Array(FRAME);
      f.set([0xc6, 0x03, 0xff, 0xff, 0xfb]);
      return f;
    },
    codec: msgpack,
  },
  {
    name: "json [{},{},…] (64 MiB)",
    make: () => repeatText("[", "{}", ",", "]", FRAME),
    codec: json,
  },
  {
    name: "json [[],[],…] (64 MiB)",
    make: () => repeatText("[", "[]", ",", "]", FRAME),
    codec: json,
  },
  {
    name: "json 1 M {} just under the budget (3 MiB)",
    make: () => repeatText("[", "{}", ",", "]", 3 * 1_064_959 + 1),
    codec: json,
  },
  {
    name: "json 64 MiB of 8-digit numbers (under the budget)",
    make: () => repeatText("[", "12345678", ",", "]", FRAME),
    codec: json,
  },
  {
    name: "json 64 MiB of 16-digit numbers (full parser)",
    make: () => repeatText("[", "1234567890123456", ",", "]", FRAME),
    codec: json,
  },
  {
    name: "json 64 MiB of NaN (full parser)",
    make: () => repeatText("[", "NaN", ",", "]", FRAME),
    codec: json,
  },
  {
    name: "json one 64 MiB string",
    make: () => repeatText('"', "a", "", '"', FRAME),
    codec: json,
  },
  {
    name: "blosc (numcodecs) of array32 of 64 M empty maps",
    make: () =>
      new MsgPackBloscCodec().encode(null).then(() =>
        compressWithNumcodecs(array32(FRAME - 5, 0x80))
      ),
    codec: blosc,
  },
  {
    name: "blosc (numcodecs) of 1024 × array16 of 65535 empty maps",
    make: () => compressWithNumcodecs(chunked(1024, 0x80)),
    codec: blosc,
  },
  {
    name: "blosc one-block frame of 64 MiB of 0x80 in an array32",
    make: () =>
      compressSingleRun(
        array32(FRAME - 16 - 5, 0x80).subarray(0, 5),
        0x80,
        FRAME - 16,
      ),
    codec: blosc,
  },
  {
    name: "blosc one shuffled 64 MiB block of 0x80",
    make: () => compressSingleRun(new Uint8Array(0), 0x80, FRAME - 16, true),
    codec: blosc,
  },
  {
    name: "blosc 4 shuffled 16 MiB blocks of 0x80",
    make: () => compressRuns(0x80, FRAME, 16 * MiB, true),
    codec: blosc,
  },
  {
    name: "blosc 4 unshuffled 16 MiB blocks of 0x80",
    make: () => compressRuns(0x80, FRAME, 16 * MiB),
    codec: blosc,
  },
  {
    name: "blosc one-block frame of 1024 × array16 of empty maps",
    make: () => compressStored(chunked(1023, 0x80)),
    codec: blosc,
  },
];

async function compressWithNumcodecs(data: Uint8Array): Promise<Uint8Array> {
  const { loadCompressor } = await import("../../codecs/_blosc_compressor.ts");
  return await (await loadCompressor()).encode(data);
}

const filter = Deno.args[0];
for (const { name, make, codec } of cases) {
  if (filter && !name.includes(filter)) continue;
  const frame = await make();
  gc();
  const heapBefore = Deno.memoryUsage().heapUsed;
  const start = performance.now();
  let outcome: string;
  try {
    await codec.decode(frame);
    outcome = "decoded";
  } catch (error) {
    outcome = `${(error as Error).name}: ${
      (error as Error).message.slice(0, 160)
    }`;
  }
  const ms = performance.now() - start;
  const heap = (Deno.memoryUsage().heapUsed - heapBefore) / MiB;
  const rss = Deno.memoryUsage().rss / MiB;
  console.log(
    `${name} | frame ${(frame.length / MiB).toFixed(2)} MiB | ${
      ms.toFixed(0)
    } ms | heap +${heap.toFixed(0)} MiB | rss ${
      rss.toFixed(0)
    } MiB | ${outcome}`,
  );
}
