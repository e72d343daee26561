/**
 * A bidirectional byte stream a {@linkcode Channel} runs over: a
 * `Deno.Conn`, a TLS connection, or one end of {@linkcode createMemoryPair}.
 */
export interface Transport {
  /** Bytes from the peer. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  readonly writable: WritableStream<Uint8Array>;
  /**
   * Optional fast path for reading: fills the start of `buffer` with the
   * next bytes and resolves with how many, or `null` at the end of the
   * stream (`Deno.Conn.read`). When present together with `close`, the
   * channel reads with it instead of `readable`, and relies on `close` to
   * end a pending read. The buffer is reused for the next read.
   */
  read?(buffer: Uint8Array): Promise<number | null>;
  /**
   * Optional fast path for writing: writes some of `bytes` and resolves
   * with how many, at least 1 (`Deno.Conn.write`). When present together
   * with `close`, the channel writes with it instead of `writable`. The
   * bytes are reused once the promise settles: do not keep them.
   */
  write?(bytes: Uint8Array): Promise<number>;
  /**
   * Releases the underlying resource once the channel has closed its
   * streams (e.g. `Deno.Conn.close`). Must not throw if it is gone already.
   */
  close?(): void;
}
