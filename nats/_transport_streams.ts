// The stream views of a NATS session (`NatsTransport.readable` and
// `writable`), over its `read`, `write` and `close`. A `Channel` uses
// those directly; the streams are made only for whoever asks for them.
import type { NatsTransport } from "./nats_transport.ts";

/** Bytes from the peer, as {@linkcode NatsTransport.read} gives them. */
export function readableOf(
  transport: NatsTransport,
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      const buffer = new Uint8Array(64 * 1024);
      const n = await transport.read(buffer);
      if (n === null) controller.close();
      else controller.enqueue(buffer.subarray(0, n));
    },
    cancel: () => transport.close(),
  });
}

/** Bytes to the peer, through {@linkcode NatsTransport.write}. */
export function writableOf(
  transport: NatsTransport,
): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({
    write: async (chunk) => {
      await transport.write(chunk);
    },
    close: () => transport.close(),
    abort: () => transport.close(),
  });
}
