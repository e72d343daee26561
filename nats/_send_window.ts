// How far a NATS session's writer may run ahead of its peer's reader (see
// `NatsTransport.write`): it waits while more than `window` bytes it sent
// are unread by the peer, which tells how much it has read in its pings,
// pongs and acks.

/** The bytes sent and not yet read by the peer, and the writer waiting for room. */
export class SendWindow {
  #window: number;
  #sentBytes = 0;
  #peerRead = 0;
  #windowOpen: PromiseWithResolvers<void> | null = null;

  constructor(window: number) {
    this.#window = window;
  }

  /**
   * Lowers the window to what the peer reads ahead (its own `window`): a
   * peer fails a session that sends more than that unread.
   */
  limit(window: number): void {
    if (window < this.#window) this.#window = window;
  }

  /** Whether more than `window` bytes sent are unread by the peer. */
  get full(): boolean {
    return this.#sentBytes - this.#peerRead > this.#window;
  }

  /** How many bytes were sent, in all. */
  get sentBytes(): number {
    return this.#sentBytes;
  }

  /** Counts `n` more bytes sent. */
  sent(n: number): void {
    this.#sentBytes += n;
  }

  /** Settles at the next {@linkcode SendWindow.open}. */
  wait(): Promise<void> {
    this.#windowOpen ??= Promise.withResolvers<void>();
    return this.#windowOpen.promise;
  }

  /** What the peer says it has read, in all: opens the window if there is room. */
  peerRead(read: number): void {
    if (read > this.#peerRead) {
      this.#peerRead = read;
      if (this.#sentBytes - read <= this.#window) this.open();
    }
  }

  /** Wakes the writer, if it waits: there is room, or the session ended. */
  open(): void {
    const open = this.#windowOpen;
    this.#windowOpen = null;
    open?.resolve();
  }
}
