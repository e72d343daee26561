// In-process stand-ins for a Deno.Conn, for the js family: they answer at
// once (a microtask later), so a scenario over one measures the
// JavaScript a message costs and nothing of the kernel or the VM.
import type { Transport } from "../mod.ts";

/** A Deno.Conn-like transport that a benchmark drives; `close` ends it. */
export interface FakeConn extends Transport {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
}

/** The length in the 4-byte big-endian frame header at `at`. */
function lengthAt(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) |
    bytes[at + 3]) >>> 0;
}

/**
 * What runs before each batch is handed over: nothing, or a walk through
 * other memory that evicts the code under test from the caches, as the
 * kernel's network stack does between two batches on a real socket.
 */
export type BeforeBatch = () => void;

/** A walk writing one byte in each 64-byte line of `bytes` bytes (`--js-evict`). */
export function evictor(bytes: number): BeforeBatch {
  const memory = new Uint8Array(bytes);
  return () => {
    for (let i = 0; i < bytes; i += 64) memory[i]++;
  };
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
  let pending: ((n: number | null) => void) | null = null;
  let target: Uint8Array | null = null;
  let replied = 0;
  let answered = 0;
  let deadline = 0;
  let done: ((answered: number) => void) | null = null;
  /** A batch is due but the server has no read pending yet. */
  let due = false;
  const deliver = (): void => {
    const resolve = pending;
    if (resolve === null) {
      due = true;
      return;
    }
    pending = null;
    beforeBatch();
    target!.set(batch);
    resolve(batch.length);
  };
  const conn: FakeConn = {
    ...unusedStreams(),
    read(buffer) {
      target = buffer;
      const read = new Promise<number | null>((resolve) => (pending = resolve));
      if (due) {
        due = false;
        deliver();
      }
      return read;
    },
    write(bytes) {
      replied += bytes.length;
      if (replied >= replyBytes) {
        replied -= replyBytes;
        answered += count;
        if (performance.now() < deadline) queueMicrotask(deliver);
        else {
          done!(answered);
          done = null;
        }
      }
      return Promise.resolve(bytes.length);
    },
    close() {
      pending?.(null);
      pending = null;
    },
  };
  return {
    conn,
    feed(ms) {
      answered = 0;
      deadline = performance.now() + ms;
      const { promise, resolve } = Promise.withResolvers<number>();
      done = resolve;
      deliver();
      return promise;
    },
  };
}

/**
 * The server side of a client under test: every request frame written
 * (`[0, id, content]` in MsgPack: a fixarray, then the type) comes back a
 * microtask later as its reply (the type byte set to 1); `beforeBatch` runs
 * before each read of replies.
 */
export function msgpackEchoConn(beforeBatch: BeforeBatch = () => {}): FakeConn {
  let pending: ((n: number | null) => void) | null = null;
  let target: Uint8Array | null = null;
  const queued: Uint8Array[] = [];
  let closed = false;
  const deliver = (): void => {
    if (pending === null || queued.length === 0) return;
    beforeBatch();
    const buffer = target!;
    let at = 0;
    while (queued.length > 0 && at + queued[0].length <= buffer.length) {
      const bytes = queued.shift()!;
      buffer.set(bytes, at);
      for (let frame = at; frame < at + bytes.length;) {
        buffer[frame + 5] = 1;
        frame += 4 + lengthAt(buffer, frame);
      }
      at += bytes.length;
    }
    const resolve = pending;
    pending = null;
    resolve(at);
  };
  return {
    ...unusedStreams(),
    read(buffer) {
      if (closed) return Promise.resolve(null);
      target = buffer;
      const read = new Promise<number | null>((resolve) => (pending = resolve));
      deliver();
      return read;
    },
    write(bytes) {
      // The writer reuses its buffer once the write settles.
      queued.push(bytes.slice());
      queueMicrotask(deliver);
      return Promise.resolve(bytes.length);
    },
    close() {
      closed = true;
      pending?.(null);
      pending = null;
    },
  };
}
