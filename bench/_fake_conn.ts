// In-process stand-ins for a Deno.Conn, for the js family: they answer at
// once (a microtask later), so a scenario over one measures the
// JavaScript a message costs and nothing of the kernel or the VM.
import type { Transport } from "../mod.ts";
import { frameLength } from "./_conn.ts";

/** A Deno.Conn-like transport that a benchmark drives; `close` ends it. */
export interface FakeConn extends Transport {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
}

/**
 * What runs before each batch is handed over: nothing, or a walk through
 * other memory that evicts the code under test from the caches, as the
 * kernel's network stack does between two batches on a real socket.
 */
export type BeforeBatch = () => void;

/** A walk before each batch, and the time all its walks took so far. */
export interface Evictor {
  readonly walk: BeforeBatch;
  /** Milliseconds spent walking: not the code under test's. */
  readonly spentMs: number;
}

/** A walk writing one byte in each 64-byte line of `bytes` bytes (`--js-evict`). */
export function evictor(bytes: number): Evictor {
  const memory = new Uint8Array(bytes);
  let spentMs = 0;
  return {
    walk() {
      const start = performance.now();
      for (let i = 0; i < bytes; i += 64) memory[i]++;
      spentMs += performance.now() - start;
    },
    get spentMs() {
      return spentMs;
    },
  };
}

/**
 * The reading side of a fake connection: bytes handed to `push` are read
 * in order, as much as each read's buffer takes, a read waiting for them
 * if none are there yet. After `close`, reads end (null).
 */
class Inbox {
  #chunks: Uint8Array[] = [];
  /** How much of the first chunk has been read. */
  #offset = 0;
  #pending: ((n: number | null) => void) | null = null;
  #target: Uint8Array | null = null;
  #closed = false;

  push(bytes: Uint8Array): void {
    this.#chunks.push(bytes);
    this.#deliver();
  }

  read(buffer: Uint8Array): Promise<number | null> {
    if (this.#closed) return Promise.resolve(null);
    this.#target = buffer;
    const read = new Promise<number | null>((resolve) => {
      this.#pending = resolve;
    });
    this.#deliver();
    return read;
  }

  close(): void {
    this.#closed = true;
    this.#pending?.(null);
    this.#pending = null;
  }

  #deliver(): void {
    const resolve = this.#pending;
    if (resolve === null || this.#chunks.length === 0) return;
    const target = this.#target!;
    let n = 0;
    while (this.#chunks.length > 0 && n < target.length) {
      const chunk = this.#chunks[0];
      const take = Math.min(chunk.length - this.#offset, target.length - n);
      target.set(chunk.subarray(this.#offset, this.#offset + take), n);
      n += take;
      this.#offset += take;
      if (this.#offset === chunk.length) {
        this.#chunks.shift();
        this.#offset = 0;
      }
    }
    this.#pending = null;
    resolve(n);
  }
}

/** A `Transport`'s streams, unused: the channel reads and writes directly. */
function unusedStreams(): Pick<Transport, "readable" | "writable"> {
  return {
    readable: new ReadableStream<Uint8Array>(),
    writable: new WritableStream<Uint8Array>(),
  };
}

/**
 * The client side of a server under test: while a `feed` runs, it hands
 * the server `batch` (complete request frames, `count` of them) to read,
 * and the next batch once the server has written `replyBytes` in reply.
 */
export interface RequestFeed {
  conn: FakeConn;
  /** Feeds batches for about `ms`; resolves with the requests answered. */
  feed(ms: number): Promise<number>;
}

/**
 * A feed of `batch` (frames of `count` requests) whose replies take
 * `replyBytes` in all; `beforeBatch` runs before each batch is read.
 */
export function requestFeed(
  batch: Uint8Array,
  count: number,
  replyBytes: number,
  beforeBatch: BeforeBatch = () => {},
): RequestFeed {
  const inbox = new Inbox();
  let replied = 0;
  let answered = 0;
  let deadline = 0;
  let done: ((answered: number) => void) | null = null;
  const next = (): void => {
    beforeBatch();
    inbox.push(batch);
  };
  const conn: FakeConn = {
    ...unusedStreams(),
    read: (buffer) => inbox.read(buffer),
    write(bytes) {
      replied += bytes.length;
      if (replied >= replyBytes) {
        replied -= replyBytes;
        answered += count;
        if (performance.now() < deadline) queueMicrotask(next);
        else {
          done!(answered);
          done = null;
        }
      }
      return Promise.resolve(bytes.length);
    },
    close: () => inbox.close(),
  };
  return {
    conn,
    feed(ms) {
      answered = 0;
      deadline = performance.now() + ms;
      const { promise, resolve } = Promise.withResolvers<number>();
      done = resolve;
      next();
      return promise;
    },
  };
}

/**
 * The server side of a client under test: every request frame written
 * (`[0, id, content]` in MsgPack: a fixarray, then the type) comes back a
 * microtask later as its reply (the type byte set to 1); `beforeBatch`
 * runs before each batch of replies. Writes hold whole frames (the
 * channel's batches do).
 */
export function msgpackEchoConn(
  beforeBatch: BeforeBatch = () => {},
): FakeConn {
  const inbox = new Inbox();
  return {
    ...unusedStreams(),
    read: (buffer) => inbox.read(buffer),
    write(bytes) {
      // The writer reuses its buffer once the write settles.
      const replies = bytes.slice();
      for (
        let at = 0;
        at < replies.length;
        at += 4 + frameLength(replies, at)
      ) {
        replies[at + 5] = 1;
      }
      queueMicrotask(() => {
        beforeBatch();
        inbox.push(replies);
      });
      return Promise.resolve(bytes.length);
    },
    close: () => inbox.close(),
  };
}
