/**
 * A hand-written request/reply client and peer over `Deno.Conn`, used by
 * `bench/e2e.ts` for comparison only: what any JavaScript implementation
 * pays per call, with one promise per call and the library's codecs, but
 * none of the library. The frames queued in one tick go in one write and
 * the next read is set up after that write, as the channel does; there is
 * no validation, no backpressure, no cancellation and no closing protocol.
 * It is the floor the channel's per-message cost is compared with.
 */
import type { Codec } from "../codecs/codec.ts";
import { frameLength, writeAll } from "./_conn.ts";

/** Read and batch buffers; the benchmark's batches are far smaller. */
const BUFFER_SIZE = 64 * 1024;

/** Frames queued in one tick, written together; two buffers in turn. */
class Batch {
  #conn: Deno.Conn;
  #buffers = [new Uint8Array(BUFFER_SIZE), new Uint8Array(BUFFER_SIZE)];
  #current = 0;
  #length = 0;
  #scheduled = false;
  #writing = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Queues one frame; it is written a microtask later at the latest. */
  add(payload: Uint8Array): void {
    const buffer = this.#buffers[this.#current];
    const at = this.#length;
    const length = payload.length;
    if (at + 4 + length > BUFFER_SIZE) {
      throw new RangeError("bench/_minimal.ts: batch buffer full");
    }
    buffer[at] = length >>> 24;
    buffer[at + 1] = length >>> 16;
    buffer[at + 2] = length >>> 8;
    buffer[at + 3] = length;
    buffer.set(payload, at + 4);
    this.#length = at + 4 + length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.flush);
    }
  }

  /** Writes what is queued, unless a write is in flight (it follows that one). */
  flush = (): void => {
    if (!this.#scheduled || this.#writing) return;
    this.#scheduled = false;
    this.#writing = true;
    const bytes = this.#buffers[this.#current].subarray(0, this.#length);
    this.#current ^= 1;
    this.#length = 0;
    writeAll(this.#conn, bytes).then(() => {
      this.#writing = false;
      if (this.#scheduled) this.flush();
    }, () => {});
  };
}

/**
 * Reads frames until the connection ends, handing each decoded message to
 * `onMessage`; after each read, lets the code it woke run and writes what
 * that code queued before reading again.
 */
async function readMessages(
  conn: Deno.Conn,
  codec: Codec,
  batch: Batch,
  onMessage: (message: unknown[]) => void,
): Promise<void> {
  const buffer = new Uint8Array(BUFFER_SIZE);
  let filled = 0;
  try {
    for (;;) {
      const n = await conn.read(buffer.subarray(filled));
      if (n === null) return;
      filled += n;
      let at = 0;
      while (filled - at >= 4) {
        const length = frameLength(buffer, at);
        if (4 + length > BUFFER_SIZE) {
          throw new RangeError("bench/_minimal.ts: frame too large");
        }
        if (filled - at - 4 < length) break;
        onMessage(
          codec.decode(buffer.subarray(at + 4, at + 4 + length)) as unknown[],
        );
        at += 4 + length;
      }
      buffer.copyWithin(0, at, filled);
      filled -= at;
      await null;
      batch.flush();
    }
  } catch {
    // The benchmark closed the connection.
  }
}

function encode(codec: Codec, message: unknown[]): Uint8Array {
  return codec.encodeView?.(message) ?? codec.encode(message) as Uint8Array;
}

/**
 * Echoes every request's content back as its result until the connection
 * ends.
 *
 * @param conn The connection.
 * @param codec A synchronous codec (JSON, MsgPack), one per connection.
 * @returns A promise that settles when the connection has ended.
 */
export async function serveMinimal(
  conn: Deno.Conn,
  codec: Codec,
): Promise<void> {
  const batch = new Batch(conn);
  await readMessages(conn, codec, batch, (message) => {
    batch.add(encode(codec, [1, message[1], message[2]]));
  });
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}

/** The promise `reply` returns: the reply was queued at once. */
const QUEUED: Promise<void> = Promise.resolve();

/** A request handed to the serving loop, answered once with `reply`. */
class MinimalRequest {
  readonly content: unknown;
  #id: unknown;
  #server: MinimalRequests;
  #answered = false;

  constructor(content: unknown, id: unknown, server: MinimalRequests) {
    this.content = content;
    this.#id = id;
    this.#server = server;
  }

  reply(value: unknown): Promise<void> {
    if (this.#answered) {
      return Promise.reject(new TypeError("answered already"));
    }
    this.#answered = true;
    this.#server.answer(this.#id, value);
    return QUEUED;
  }
}

/**
 * The requests of one connection as objects: queued when they arrive,
 * taken with `tryRecv` or awaited with `recv`, as a channel's are.
 */
class MinimalRequests {
  #batch: Batch;
  #codec: Codec;
  #queue: MinimalRequest[] = [];
  #head = 0;
  #waiter: ((request: MinimalRequest | null) => void) | null = null;

  constructor(batch: Batch, codec: Codec) {
    this.#batch = batch;
    this.#codec = codec;
  }

  receive(message: unknown[]): void {
    const request = new MinimalRequest(message[2], message[1], this);
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      waiter(request);
    } else this.#queue.push(request);
  }

  answer(id: unknown, value: unknown): void {
    this.#batch.add(encode(this.#codec, [1, id, value]));
  }

  tryRecv(): MinimalRequest | undefined {
    if (this.#head === this.#queue.length) return undefined;
    const request = this.#queue[this.#head++];
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    }
    return request;
  }

  recv(): Promise<MinimalRequest | null> {
    return new Promise((resolve) => this.#waiter = resolve);
  }

  end(): void {
    this.#waiter?.(null);
  }
}

/**
 * {@linkcode serveMinimal} with requests as objects, as a channel hands
 * them over (queued, taken by a `tryRecv` loop, answered with `reply`):
 * the least the request-object API adds to the hand-written server.
 *
 * @param conn The connection.
 * @param codec A synchronous codec (JSON, MsgPack), one per connection.
 * @returns A promise that settles when the connection has ended.
 */
export async function serveMinimalRequests(
  conn: Deno.Conn,
  codec: Codec,
): Promise<void> {
  const batch = new Batch(conn);
  const requests = new MinimalRequests(batch, codec);
  const serving = (async () => {
    for (;;) {
      const request = requests.tryRecv() ?? await requests.recv();
      if (request === null) return;
      request.reply(request.content).catch(() => {});
    }
  })();
  await readMessages(conn, codec, batch, (message) => {
    requests.receive(message);
  });
  requests.end();
  await serving;
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}

/** The calling side: `send` resolves with the peer's result. */
export interface MinimalClient {
  send(content: unknown): Promise<unknown>;
}

/** Calls waiting for a reply are kept in a ring of this size. */
const RING = 1024;

/**
 * Starts the calling side on a connection; at most 1024 calls may wait at
 * once.
 *
 * @param conn The connection.
 * @param codec A synchronous codec (JSON, MsgPack), one per connection.
 * @returns The client.
 */
export function minimalClient(conn: Deno.Conn, codec: Codec): MinimalClient {
  const batch = new Batch(conn);
  const waiting: ((value: unknown) => void)[] = new Array(RING);
  let nextId = 0;
  readMessages(conn, codec, batch, (message) => {
    waiting[(message[1] as number) & (RING - 1)](message[2]);
  });
  return {
    send(content: unknown): Promise<unknown> {
      const id = nextId++;
      batch.add(encode(codec, [0, id, content]));
      const { promise, resolve } = Promise.withResolvers<unknown>();
      waiting[id & (RING - 1)] = resolve;
      return promise;
    },
  };
}
