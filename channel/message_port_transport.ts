import { describe } from "../codecs/serializer_registry.ts";
import { ProtocolError } from "../errors.ts";
import type { Transport } from "./transport.ts";

/** Chunks below this size are copied into the message, larger ones transferred. */
const SMALL_CHUNK = 4096;
/** The largest chunk the readable gives: as much as a socket read takes. */
const PIECE = 256 * 1024;

/**
 * A transport over a `MessagePort`, e.g. between a program and its Deno
 * Worker. Chunks of 4 KiB or more that own their whole buffer (as the
 * channel's batched writes do) are transferred, not copied: the writer's
 * view of them is detached afterwards. Smaller chunks are copied, which is
 * cheaper than a transfer; of views into a larger buffer, only their bytes
 * are copied. A channel with a `writeTimeout` (the default) writes at most
 * 256 KiB at once, a view that is copied: give a channel over a
 * `MessagePort` `writeTimeout: Infinity`.
 *
 * Closing either end (its writable, its readable or `close()`) tells the
 * other end, whose readable then ends, and ends the local readable too: a
 * closed port receives nothing more. A port is not told when its peer
 * just disappears (a terminated Worker), so whoever terminates it must
 * `close()` the transports linked to it.
 *
 * There is no backpressure across a port: the receiving side queues what
 * it has not read yet. A message that is not bytes (`Uint8Array`) errors
 * the readable with a `ProtocolError`, and closes the transport; `null`
 * (and `undefined`, which a port delivers as `null`) is the end of the
 * stream. Bytes are read in pieces of at most 256 KiB, as from a socket.
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
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  const endReadable = () => {
    try {
      controller?.close();
    } catch {
      // Ended, cancelled or errored already.
    }
  };
  /** Tells the peer (unless it told us first), closes the port, ends the readable. */
  const close = (peerClosed = false) => {
    if (closed) return;
    closed = true;
    if (!peerClosed) {
      try {
        // null is the end of the stream.
        port.postMessage(null);
      } catch {
        // The port cannot send any more: nobody to tell.
      }
    }
    port.close();
    endReadable();
  };
  const readable = new ReadableStream<Uint8Array>({
    start(streamController) {
      controller = streamController;
      port.onmessage = (event: MessageEvent) => {
        // Messages already on their way when this side closed still come:
        // the readable has ended, they go nowhere.
        if (closed) return;
        const data: unknown = event.data;
        if (data === null) return close(true);
        if (!(data instanceof Uint8Array)) {
          streamController.error(
            new ProtocolError(
              `The peer posted ${describe(data)} on the port, not bytes`,
            ),
          );
          return close();
        }
        // In pieces as a socket reads: a reader takes a chunk's frames at
        // once, and a peer chooses how large a message is.
        for (let at = 0; at < data.length; at += PIECE) {
          enqueue(streamController, data.subarray(at, at + PIECE));
        }
      };
      port.onmessageerror = () => {
        streamController.error(
          new TypeError("A message on the port could not be read"),
        );
        close();
      };
    },
    cancel: () => close(),
  });
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      if (closed) throw new TypeError("The port is closed");
      const owned = chunk.byteOffset === 0 &&
        chunk.byteLength === chunk.buffer.byteLength &&
        chunk.buffer instanceof ArrayBuffer;
      // Posting a view would clone its whole buffer (and share a
      // SharedArrayBuffer): copy just its bytes instead, then move the copy.
      const message = owned ? chunk : chunk.slice();
      // Below a few KiB a copy is cheaper than a transfer (measured).
      if (message.byteLength < SMALL_CHUNK) port.postMessage(message);
      else port.postMessage(message, [message.buffer as ArrayBuffer]);
    },
    close: () => close(),
    abort: () => close(),
  });
  return { readable, writable, close: () => close() };
}

/**
 * Queues `chunk` unless the stream has ended some other way (cancelled or
 * errored by its reader's side): a port's handler must not throw.
 */
function enqueue(
  controller: ReadableStreamDefaultController<Uint8Array>,
  chunk: Uint8Array,
): void {
  try {
    controller.enqueue(chunk);
  } catch {
    // Ended: the chunk goes nowhere.
  }
}
