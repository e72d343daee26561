// A transport shaped like a Deno.Conn (read/write/close) over one end of a
// memory pair, recording what the channel does with it.
import type { Transport } from "../../channel/mod.ts";

/** What a {@linkcode connLike} transport saw. */
export interface ConnLikeLog {
  /** Every chunk passed to `write`, as much of it as was written. */
  writes: Uint8Array[];
  /** How many times `read` was called. */
  reads: number;
  /** If given, "read" and "write" in the order the calls were made. */
  calls?: string[];
}

/** Options of {@linkcode connLike}. */
export interface ConnLikeOptions {
  /** The most bytes one `write` call takes (a partial write). */
  maxWrite?: number;
  /** When closed, a pending `read` rejects (as Deno.Conn's does) instead of resolving null. */
  rejectOnClose?: boolean;
}

/**
 * Wraps a stream transport as a conn-like one: `read` and `write` work,
 * while `readable` and `writable` throw, so a channel must use the former.
 */
export function connLike(
  inner: Transport,
  log: ConnLikeLog = { writes: [], reads: 0 },
  options: ConnLikeOptions = {},
): Transport {
  const reader = inner.readable.getReader();
  const writer = inner.writable.getWriter();
  let leftover: Uint8Array | null = null;
  const closed = Promise.withResolvers<null>();
  let isClosed = false;
  return {
    get readable(): ReadableStream<Uint8Array> {
      throw new Error("readable must not be used when read is given");
    },
    get writable(): WritableStream<Uint8Array> {
      throw new Error("writable must not be used when write is given");
    },
    async read(buffer) {
      log.reads++;
      log.calls?.push("read");
      if (isClosed) throw new Error("read after close");
      let chunk = leftover;
      leftover = null;
      if (chunk === null) {
        const next = await Promise.race([reader.read(), closed.promise]);
        if (next === null) {
          if (options.rejectOnClose) {
            throw new Deno.errors.Interrupted("operation canceled");
          }
          return null;
        }
        if (next.done) return null;
        chunk = next.value;
      }
      const n = Math.min(chunk.length, buffer.length);
      buffer.set(chunk.subarray(0, n));
      if (n < chunk.length) leftover = chunk.subarray(n);
      return n;
    },
    async write(bytes) {
      if (isClosed) throw new Deno.errors.BadResource("closed");
      log.calls?.push("write");
      const n = Math.min(bytes.length, options.maxWrite ?? Infinity);
      const part = bytes.slice(0, n);
      log.writes.push(part);
      await writer.write(part);
      return n;
    },
    close() {
      if (isClosed) return;
      isClosed = true;
      closed.resolve(null);
      reader.cancel().catch(() => {});
      writer.close().catch(() => {});
    },
  };
}

/**
 * A conn-like transport whose reads are `read`'s; writes succeed unseen
 * and `readable`/`writable` throw, so a channel must use `read`.
 */
export function readingTransport(
  read: (buffer: Uint8Array) => Promise<number | null>,
  close: () => void = () => {},
): Transport {
  return {
    get readable(): ReadableStream<Uint8Array> {
      throw new Error("not used");
    },
    get writable(): WritableStream<Uint8Array> {
      throw new Error("not used");
    },
    read,
    write: (bytes: Uint8Array) => Promise.resolve(bytes.length),
    close,
  };
}
