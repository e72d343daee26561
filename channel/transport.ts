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
  /**
   * Optional: carries each call's trace context (W3C `traceparent`,
   * `tracestate`) beside the request's frame, for transports with room for
   * it outside the aiomas bytes (NATS message headers). The aiomas bytes
   * never carry it, so aiomas and mosaik peers see nothing of it.
   */
  readonly traceContext?: TraceContextCarrier;
}

/**
 * Carries trace context beside request frames (see
 * {@linkcode Transport.traceContext}). Request ids are the sender's: the
 * channel hands over its outgoing requests' contexts with `outgoing` before
 * their frames reach the transport, and takes the peer's with `incoming`
 * when their frames have been read.
 */
export interface TraceContextCarrier {
  /**
   * The context of the request `id` this side is sending; called before the
   * request's frame is written.
   */
  outgoing(id: number, context: Readonly<Record<string, string>>): void;
  /**
   * The context the peer sent with its request `id`, forgotten once taken;
   * undefined if it sent none.
   */
  incoming(id: number): Readonly<Record<string, string>> | undefined;
}
