import type { Transport } from "./transport.ts";

/**
 * Creates two connected in-memory transports, the counterpart of aiomas's
 * `local_queue`: what one end writes, the other reads. For tests and for
 * channels inside one process.
 *
 * @returns The two ends.
 *
 * @example
 * ```ts
 * import { Channel, createMemoryPair } from "@aiomas/aiomas/channel";
 * import assert from "node:assert/strict";
 *
 * const [a, b] = createMemoryPair();
 * await using client = new Channel(a);
 * await using server = new Channel(b);
 * const reply = client.send("ohai");
 * for await (const request of server) {
 *   await request.reply("cya");
 *   break;
 * }
 * assert.equal(await reply, "cya");
 * ```
 */
export function createMemoryPair(): [Transport, Transport] {
  // Copies on write: the writer may reuse its buffer, as with a socket.
  const aToB = new TransformStream<Uint8Array, Uint8Array>({
    transform: (chunk, controller) => controller.enqueue(chunk.slice()),
  });
  const bToA = new TransformStream<Uint8Array, Uint8Array>({
    transform: (chunk, controller) => controller.enqueue(chunk.slice()),
  });
  return [
    { readable: bToA.readable, writable: aToB.writable },
    { readable: aToB.readable, writable: bToA.writable },
  ];
}
