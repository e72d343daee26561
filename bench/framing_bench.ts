/**
 * Framing benchmarks: a byte stream of many 64-byte frames (4-byte header +
 * 60-byte payload) cut into chunks of 1 B, 4 KiB and 64 KiB, split into
 * frames by `FrameDecoderStream` and by the bare `FrameParser` (what
 * `Channel` uses, no stream stage). The baseline of each group pipes the
 * same chunks through a pass-through `TransformStream` (one JavaScript
 * `transform` call and one `enqueue` per chunk): the cost of a stream stage
 * that does no work.
 *
 * Each group's name says how many bytes one iteration moves; MB/s =
 * bytes / (time per iteration).
 *
 * Run: deno bench bench/framing_bench.ts
 */
import { FrameParser } from "../channel/_frame_parser.ts";
import { FrameDecoderStream } from "../channel/mod.ts";

const FRAME = 64;
const PAYLOAD = FRAME - 4;

/** `count` frames of FRAME bytes, back to back, cut into `chunkSize` chunks. */
function chunked(count: number, chunkSize: number): Uint8Array[] {
  const bytes = new Uint8Array(count * FRAME);
  for (let i = 0; i < count; i++) {
    const at = i * FRAME;
    new DataView(bytes.buffer).setUint32(at, PAYLOAD);
    bytes.fill(i & 0xff, at + 4, at + FRAME);
  }
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += chunkSize) {
    // Copies, as a socket gives fresh buffers.
    chunks.push(bytes.slice(at, at + chunkSize));
  }
  return chunks;
}

function source(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<number> {
  const reader = stream.getReader();
  let items = 0;
  for (;;) {
    const { done } = await reader.read();
    if (done) return items;
    items++;
  }
}

const cases = [
  { label: "1 B chunks", chunkSize: 1, frames: 256 },
  { label: "4 KiB chunks", chunkSize: 4096, frames: 16384 },
  { label: "64 KiB chunks", chunkSize: 65536, frames: 65536 },
];

for (const { label, chunkSize, frames } of cases) {
  const chunks = chunked(frames, chunkSize);
  const bytes = frames * FRAME;
  const group = `${label}: ${frames} frames of ${FRAME} B = ${
    bytes / 1024
  } KiB per iteration, ${chunks.length} chunks`;

  Deno.bench({
    name: `pass-through TransformStream (${label})`,
    group,
    baseline: true,
    fn: async () => {
      const stage = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          controller.enqueue(chunk);
        },
      });
      const n = await drain(source(chunks).pipeThrough(stage));
      if (n !== chunks.length) throw new Error(`got ${n} chunks`);
    },
  });

  Deno.bench({
    name: `FrameDecoderStream (${label})`,
    group,
    fn: async () => {
      const n = await drain(
        source(chunks).pipeThrough(new FrameDecoderStream()),
      );
      if (n !== frames) throw new Error(`got ${n} frames`);
    },
  });

  Deno.bench({
    name: `FrameParser.push, no stream (${label})`,
    group,
    fn: () => {
      const parser = new FrameParser();
      const out: Uint8Array[] = [];
      let n = 0;
      for (const chunk of chunks) {
        parser.push(chunk, out);
        n += out.length;
        out.length = 0;
      }
      if (n !== frames) throw new Error(`got ${n} frames`);
    },
  });
}
