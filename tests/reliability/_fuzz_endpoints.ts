// Both ends of a fuzz connection: the service the fuzzed server exposes, and
// a raw TCP peer that plays the wire by hand.

import { concat } from "../_frames.ts";
import { expose } from "../../mod.ts";

// ---------------------------------------------------------------------------
// The service under fuzz

class Sub {
  @expose({ params: ["a", "b"] })
  mul(a: number, b = 1): number {
    return a * b;
  }
}

/** The small service the fuzzed server exposes. */
export class FuzzService {
  @expose
  sub = new Sub();

  @expose
  add(a: number, b: number): number {
    return a + b;
  }

  @expose
  echo(value: unknown): unknown {
    return value;
  }

  @expose
  async echoAsync(value: unknown): Promise<unknown> {
    return await Promise.resolve(value);
  }

  @expose
  fail(message: unknown): never {
    throw new RangeError(String(message));
  }

  secret(): string {
    return "no";
  }
}

// ---------------------------------------------------------------------------
// A raw peer: frames in, events out, with deadlines

/** What a {@linkcode RawPeer} sees: a frame from the server, or the end. */
export type PeerEvent =
  | { kind: "frame"; payload: Uint8Array }
  | { kind: "closed"; error?: unknown };

/**
 * A raw TCP peer for tests that play the wire by hand: it reads frames in
 * the background and hands them out as events, with deadlines.
 */
export class RawPeer {
  readonly conn: Deno.TcpConn;
  #events: PeerEvent[] = [];
  #wake: (() => void) | null = null;
  readonly done: Promise<void>;
  closed = false;

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.done = this.#read();
  }

  /** Connects to a server. */
  static async connect(
    addr: { hostname: string; port: number },
  ): Promise<RawPeer> {
    const conn = await Deno.connect(addr);
    conn.setNoDelay(true);
    return new RawPeer(conn);
  }

  /** The peer name the server sees for this connection. */
  get name(): string {
    const local = this.conn.localAddr;
    return `${local.hostname}:${local.port}`;
  }

  /** Closes the connection and waits for the reader to stop. */
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
    await this.done;
  }

  async #read(): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    let buffer: Uint8Array = new Uint8Array(0);
    let error: unknown;
    try {
      for (;;) {
        const n = await this.conn.read(chunk);
        if (n === null) break;
        buffer = buffer.length === 0
          ? chunk.slice(0, n)
          : concat([buffer, chunk.subarray(0, n)]);
        let at = 0;
        while (buffer.length - at >= 4) {
          const length = new DataView(buffer.buffer, buffer.byteOffset + at)
            .getUint32(0);
          if (buffer.length - at - 4 < length) break;
          this.#push({
            kind: "frame",
            payload: buffer.slice(at + 4, at + 4 + length),
          });
          at += 4 + length;
        }
        if (at > 0) buffer = buffer.slice(at);
      }
    } catch (e) {
      error = e;
    }
    this.closed = true;
    this.#push({ kind: "closed", error });
  }

  #push(event: PeerEvent): void {
    this.#events.push(event);
    this.#wake?.();
    this.#wake = null;
  }

  /** The next event, or null if none came before `deadline` (ms, performance.now()). */
  async next(deadline: number): Promise<PeerEvent | null> {
    if (this.#events.length > 0) return this.#events.shift()!;
    const remaining = deadline - performance.now();
    if (remaining <= 0) return null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const woke = await new Promise<boolean>((resolve) => {
      this.#wake = () => resolve(true);
      timer = setTimeout(() => resolve(false), remaining);
    });
    clearTimeout(timer);
    this.#wake = null;
    if (!woke) return null;
    return this.#events.shift() ?? null;
  }
}

/** Writes all of `bytes`, in separate writes at the `splits` offsets. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
  splits: number[] = [],
): Promise<void> {
  let start = 0;
  for (const end of [...splits, bytes.length]) {
    let at = start;
    while (at < end) at += await conn.write(bytes.subarray(at, end));
    start = end;
  }
}
