// Raw wire helpers for tests that play a peer by hand: frames over a plain
// Deno.Conn, hex, and counting the connections a container accepts.
export { frame, textFrame } from "../_frames.ts";

/** Bytes from hex (whitespace is ignored). */
export function unhex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  const bytes = new Uint8Array(clean.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  }
  return bytes;
}

/** Lowercase hex of bytes. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Reads whole frames from a connection. */
export class FrameReader {
  #conn: Deno.Conn;
  #buffer = new Uint8Array(0);

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** The next frame's payload, or null at a clean end of stream. */
  async read(): Promise<Uint8Array | null> {
    if (!(await this.#fill(4))) return null;
    const length = new DataView(
      this.#buffer.buffer,
      this.#buffer.byteOffset,
      4,
    ).getUint32(0);
    if (!(await this.#fill(4 + length))) {
      throw new Error(`The stream ended inside a frame of ${length} bytes`);
    }
    const payload = this.#buffer.slice(4, 4 + length);
    this.#buffer = this.#buffer.slice(4 + length);
    return payload;
  }

  /** Reads until `n` bytes are buffered; false if the stream ended first. */
  async #fill(n: number): Promise<boolean> {
    while (this.#buffer.length < n) {
      const chunk = new Uint8Array(64 * 1024);
      const count = await this.#conn.read(chunk);
      if (count === null) {
        if (this.#buffer.length === 0) return false;
        throw new Error(
          `The stream ended with ${this.#buffer.length} stray bytes`,
        );
      }
      const merged = new Uint8Array(this.#buffer.length + count);
      merged.set(this.#buffer);
      merged.set(chunk.subarray(0, count), this.#buffer.length);
      this.#buffer = merged;
    }
    return true;
  }
}

/** Writes all of `bytes`. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  for (let offset = 0; offset < bytes.length;) {
    offset += await conn.write(bytes.subarray(offset));
  }
}

/**
 * Runs `fn` with `Deno.listen` wrapped so that every listener made meanwhile
 * counts the connections it accepts. Use it around `Container.create` to
 * learn how many connections reach that container.
 *
 * @returns What `fn` returned and a function giving the count so far.
 */
export async function countingAccepts<T>(
  fn: () => Promise<T>,
): Promise<{ value: T; accepted: () => number }> {
  const realListen = Deno.listen;
  let accepted = 0;
  Deno.listen = ((options: Deno.ListenOptions) => {
    const listener = realListen(options);
    return new Proxy(listener, {
      get(target, name) {
        // The server may use either `accept()` or `for await`.
        if (name === "accept") {
          return async () => {
            const conn = await target.accept();
            accepted++;
            return conn;
          };
        }
        if (name === Symbol.asyncIterator) {
          return async function* () {
            for await (const conn of target) {
              accepted++;
              yield conn;
            }
          };
        }
        const value = Reflect.get(target, name, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }) as typeof Deno.listen;
  try {
    return { value: await fn(), accepted: () => accepted };
  } finally {
    Deno.listen = realListen;
  }
}
