import type { Transport } from "./transport.ts";

/**
 * A transport over a `MessagePort`, e.g. between a program and its Deno
 * Worker. Chunks that own their whole buffer (as the channel's batched
 * writes do) are transferred, not copied. Closing one end ends the other's
 * stream.
 *
 * There is no backpressure across a port: the receiving side queues what
 * it has not read yet.
 *
 * @param port One end of a `MessageChannel` (or a worker's port).
 * @returns The transport.
 *
 * @example
 * ```ts
 * import { Channel, messagePortTransport } from "@aiomas/aiomas/channel";
 * import assert from "node:assert/strict";
 *
 * const { port1, port2 } = new MessageChannel();
 * await using client = new Channel(messagePortTransport(port1));
 * await using server = new Channel(messagePortTransport(port2));
 * const reply = client.send("ohai");
 * await (await server.recv()).reply("cya");
 * assert.equal(await reply, "cya");
 * ```
 */
export function messagePortTransport(port: MessagePort): Transport {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    port.close();
  };
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      port.onmessage = (event: MessageEvent) => {
        // null is the other end's close.
        if (event.data === null) {
          controller.close();
          close();
        } else {
          controller.enqueue(event.data as Uint8Array);
        }
      };
      port.onmessageerror = () => {
        controller.error(
          new TypeError("A message on the port could not be read"),
        );
        close();
      };
    },
    cancel: close,
  });
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      if (closed) throw new TypeError("The port is closed");
      const owned = chunk.byteOffset === 0 &&
        chunk.byteLength === chunk.buffer.byteLength &&
        chunk.buffer instanceof ArrayBuffer;
      port.postMessage(chunk, owned ? [chunk.buffer as ArrayBuffer] : []);
    },
    close() {
      if (!closed) port.postMessage(null);
      close();
    },
    abort() {
      if (!closed) port.postMessage(null);
      close();
    },
  });
  return { readable, writable, close };
}
