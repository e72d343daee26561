// A node socket (node:tls, both ends) as a Transport.
import { type Duplex, finished } from "node:stream";
import type { Transport } from "./transport.ts";

/** What of a node socket the transport uses. */
type NodeSocket = Duplex & { destroy(): void };

/** The TCP socket under a TLS socket (node's `_parent`), and its read switch. */
interface TcpParent {
  destroy?(): void;
  _handle?: { readStop?(): unknown; readStart?(): unknown };
}

/**
 * Wraps a connected node socket as a transport. A TLS socket must have
 * its TCP socket as `_parent` (accepted ones have; make a client's with
 * `tls.connect({ socket })`): that is what stops reading.
 */
export function socketTransport(socket: NodeSocket): Transport {
  // The web streams report errors; this keeps one from being unhandled.
  socket.on("error", () => {});
  const parent = (socket as { _parent?: TcpParent })._parent;
  return {
    readable: socketReadable(socket, parent),
    writable: socketWritable(socket),
    close: () => {
      socket.destroy();
      parent?.destroy?.();
    },
  };
}

/**
 * The bytes of `socket` as a stream that stops reading while the channel
 * does not take them. Not `Duplex.toWeb`: its `pause()` leaves an accepted
 * TLS socket of Deno's node:tls reading its TCP socket, so a peer could
 * fill memory without bound while the channel held back (measured: 100
 * MiB from a client whose writes all completed); only stopping the TCP
 * handle's reads holds the peer back.
 */
function socketReadable(
  socket: NodeSocket,
  parent: TcpParent | undefined,
): ReadableStream<Uint8Array> {
  const tcp = parent?._handle;
  let paused = false;
  // Cancelled or ended: node may still emit what it had buffered (a
  // resume() flows on the next tick), which must not reach the stream.
  let done = false;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  socket.on("data", (chunk: Uint8Array) => {
    if (done) return;
    // A copy, as Duplex.toWeb makes: the channel may keep views of it.
    controller.enqueue(new Uint8Array(chunk));
    if ((controller.desiredSize ?? 0) <= 0 && !paused) {
      paused = true;
      socket.pause();
      tcp?.readStop?.();
    }
  });
  finished(socket, { writable: false }, (error) => {
    if (done) return;
    done = true;
    try {
      if (error === undefined || error === null) controller.close();
      else controller.error(error);
    } catch {
      // Cancelled already.
    }
  });
  return new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    pull() {
      if (!paused) return;
      paused = false;
      tcp?.readStart?.();
      socket.resume();
    },
    cancel() {
      done = true;
      socket.destroy();
    },
  }, { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength });
}

/**
 * A stream of writes to `socket` that waits for its `drain` once it
 * reports its buffer full. Not `Duplex.toWeb`: in Deno its writes resolve
 * while node buffers on (measured: 97 MiB queued for a peer that did not
 * read), so the channel's backpressure never held.
 */
function socketWritable(socket: NodeSocket): WritableStream<Uint8Array> {
  let drain: PromiseWithResolvers<void> | null = null;
  let failure: unknown = null;
  let ended: (() => void) | null = null;
  const fail = (error: unknown): void => {
    failure ??= error;
    drain?.reject(failure);
    drain = null;
    ended?.();
  };
  socket.on("drain", () => {
    drain?.resolve();
    drain = null;
  });
  finished(socket, { readable: false }, (error) => {
    fail(error ?? new Error("The socket closed"));
  });
  return new WritableStream<Uint8Array>({
    write(chunk): Promise<void> | void {
      if (failure !== null) throw failure;
      if (socket.write(chunk)) return;
      drain = Promise.withResolvers<void>();
      return drain.promise;
    },
    close(): Promise<void> {
      if (failure !== null) return Promise.resolve();
      return new Promise((resolve) => {
        ended = resolve;
        socket.end(() => resolve());
      });
    },
    abort(reason): void {
      socket.destroy(reason instanceof Error ? reason : undefined);
    },
  });
}
