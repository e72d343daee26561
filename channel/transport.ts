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
   * Releases the underlying resource once the channel has closed its
   * streams (e.g. `Deno.Conn.close`). Must not throw if it is gone already.
   */
  close?(): void;
}
