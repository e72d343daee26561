// Helpers shared by the frame_writer_*_test.ts files: recording sinks,
// waiting for microtasks, and patterned bytes.
import { FrameWriter } from "../../channel/_frame_writer.ts";

export const utf8 = new TextEncoder();

/** A write function that records chunks and resolves each write at once. */
export function recorder(): {
  chunks: Uint8Array[];
  write: (chunk: Uint8Array) => Promise<number>;
} {
  const chunks: Uint8Array[] = [];
  return {
    chunks,
    write: (chunk) => {
      chunks.push(chunk.slice());
      return Promise.resolve(chunk.length);
    },
  };
}

/** Lets `n` microtasks run, and no macrotask. */
export async function microtasks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await undefined;
}

export const onError = (error: unknown) => {
  throw error;
};

/** A writer into a {@linkcode recorder}, holding while `holding` says so. */
export function recordingWriter(holding?: () => boolean): {
  sink: ReturnType<typeof recorder>;
  writer: FrameWriter;
} {
  const sink = recorder();
  const writer = new FrameWriter(sink.write, {
    highWaterMark: 1 << 20,
    onError,
    holding,
  });
  return { sink, writer };
}

/** `size` bytes that differ from position to position and by `seed`. */
export function bytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}
