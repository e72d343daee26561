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
  const aToB = new Pipe();
  const bToA = new Pipe();
  // Closing an end is like a socket reset once its streams are done with:
  // both directions fail, which also ends a write stuck on a peer that does
  // not read. After a clean close both are finished already.
  const close = () => {
    aToB.reset();
    bToA.reset();
  };
  return [
    { readable: bToA.readable, writable: aToB.writable, close },
    { readable: aToB.readable, writable: bToA.writable, close },
  ];
}

/** One direction: copies on write, since the writer may reuse its buffer, as with a socket. */
class Pipe extends TransformStream<Uint8Array, Uint8Array> {
  #controller!: TransformStreamDefaultController<Uint8Array>;

  constructor() {
    let saved!: TransformStreamDefaultController<Uint8Array>;
    super({
      start: (controller) => {
        saved = controller;
      },
      transform: (chunk, controller) => controller.enqueue(chunk.slice()),
    });
    this.#controller = saved;
  }

  reset(): void {
    this.#controller.error(
      new DOMException("The connection was reset", "NetworkError"),
    );
  }
}
