import type { TraceContextCarrier, Transport } from "../channel/transport.ts";
import { Heartbeat } from "./_heartbeat.ts";
import type { NatsLink } from "./_link.ts";
import { guarded, type Msg, type Subscription } from "./_nats.ts";
import { ReceiveQueue } from "./_receive_queue.ts";
import { SendWindow } from "./_send_window.ts";
import * as wire from "./_session_wire.ts";
import { DEFAULT_WINDOW, type NatsSessionOptions } from "./_session_options.ts";
import { MAX_TRACE_HEADER_BYTES, NatsTraceCarrier } from "./_trace_carrier.ts";
import { readableOf, writableOf } from "./_transport_streams.ts";

export type { NatsSessionOptions } from "./_session_options.ts";

/**
 * One session between two NATS endpoints, as a {@linkcode Transport}: a
 * `Channel` (and the RPC and agent layers above it) runs over it as over a
 * socket. Made by `NatsEndpoint` (`open` on one side, its session handler
 * on the other).
 *
 * Each side subscribes to a subject of its own and publishes to the
 * peer's. The channel's writes (all the frames of one tick, batched)
 * become one NATS message each, split at the server's `max_payload`. The
 * messages are numbered (a gap fails the session), each side pings the
 * other every `heartbeat` ms and fails the session when the peer is gone,
 * a writer waits while more than `window` bytes are unread by the peer,
 * and the calls' trace context travels in NATS headers (`Aiomas-Trace`):
 * the protocol is in `docs/nats.md` ("How it works").
 */
export class NatsTransport implements Transport {
  /** The subject this side receives on. */
  readonly subject: string;
  /** The peer, for error messages. */
  readonly peer: string;
  /** Carries each call's trace context in the data messages' headers. */
  readonly traceContext: TraceContextCarrier;
  #carrier = new NatsTraceCarrier();
  #link: NatsLink;
  #sub: Subscription;
  #to: string | null = null;
  #window: number;
  /** Read bytes that make an ack: a quarter of the smaller window. */
  #ackEvery: number;
  // Receiving.
  #inbox = new ReceiveQueue();
  #received = 0;
  #read = 0;
  #reported = 0;
  #ended = false;
  #error: Error | null = null;
  // Sending.
  #sent = 0;
  #flow: SendWindow;
  // Liveness.
  #heartbeat: Heartbeat;
  #closed = false;
  #onClose: (() => void) | undefined;
  #readable: ReadableStream<Uint8Array> | null = null;
  #writable: WritableStream<Uint8Array> | null = null;

  /**
   * Subscribes to `subject`; messages are kept until read. Used by
   * `NatsEndpoint`; call {@linkcode NatsTransport.start} once the peer's
   * subject is known.
   *
   * @param link The connection.
   * @param subject This side's subject.
   * @param peer The peer, for error messages.
   * @param options Heartbeat, timeout, window.
   * @param onClose Called once when the session ends.
   */
  constructor(
    link: NatsLink,
    subject: string,
    peer: string,
    options: NatsSessionOptions = {},
    onClose?: () => void,
  ) {
    this.#link = link;
    this.subject = subject;
    this.peer = peer;
    this.traceContext = this.#carrier;
    this.#heartbeat = new Heartbeat(link, options, peer, {
      ping: () => this.#control(wire.PING, null),
      fail: (error) => this.#fail(error),
    });
    this.#window = options.window ?? DEFAULT_WINDOW;
    this.#ackEvery = this.#window / 4;
    this.#flow = new SendWindow(this.#window);
    this.#onClose = onClose;
    this.#sub = link.nc.subscribe(subject, {
      callback: guarded(
        (error, msg) => {
          if (error !== null) this.#fail(error);
          else this.#receive(msg);
        },
        // Only this session fails.
        (thrown) => this.#fail(wire.badMessage(this.peer, "", thrown)),
      ),
    });
  }

  /**
   * Starts the session: this side publishes to `to` from now on and pings
   * the peer.
   *
   * @param to The peer's subject.
   * @param window The peer's `window`, if it said: this side sends no
   *   more than the smaller of the two ahead of the peer's reading.
   */
  start(to: string, window?: number): void {
    if (this.#closed) return;
    this.#to = to;
    if (window !== undefined) {
      this.#flow.limit(window);
      // The peer sends at most its own window ahead: acks at a quarter of
      // ours alone would leave a smaller one waiting for a ping.
      this.#ackEvery = Math.min(this.#window, window) / 4;
    }
    this.#heartbeat.start();
  }

  /** Bytes from the peer (a view of {@linkcode NatsTransport.read}). */
  get readable(): ReadableStream<Uint8Array> {
    return this.#readable ??= readableOf(this);
  }

  /** Bytes to the peer (a view of {@linkcode NatsTransport.write}). */
  get writable(): WritableStream<Uint8Array> {
    return this.#writable ??= writableOf(this);
  }

  /**
   * Fills the start of `buffer` with the next bytes from the peer.
   *
   * @param buffer Where to put them.
   * @returns How many, or null once the peer has closed the session.
   * @throws {Error} Why the session failed.
   */
  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#inbox.empty) {
      if (this.#error !== null) throw this.#error;
      if (this.#ended) return null;
      await this.#inbox.wait();
    }
    const n = this.#inbox.take(buffer);
    this.#read += n;
    // Tell the writer before it has to wait for a ping to learn it.
    if (this.#read - this.#reported >= this.#ackEvery) {
      this.#control(wire.ACK, null);
    }
    return n;
  }

  /**
   * Publishes `bytes` (in as many messages as `max_payload` needs); before
   * each message, waits while the peer has more than `window` bytes
   * unread, so that a large write never sends more than the peer keeps.
   *
   * @param bytes The bytes; not kept once the write settles.
   * @returns How many bytes were written: all of them.
   * @throws {Error} If the session has failed or is closed.
   */
  async write(bytes: Uint8Array): Promise<number> {
    if (this.#error !== null) throw this.#error;
    const carrier = this.#carrier;
    if (carrier.pending && this.#link.makeHeaders === undefined) {
      await this.#link.loadHeaders();
      if (this.#error !== null) throw this.#error;
    }
    if (this.#closed || this.#to === null) {
      throw new Error(`Cannot write to ${this.peer}: the session is closed`);
    }
    for (let at = 0; at < bytes.length;) {
      // The peer fails a session with more than window + max_payload
      // bytes unread: a message goes only when what it has is within the
      // window. Checked again right before the publish: another write
      // woken by the same ack may have sent meanwhile.
      while (this.#flow.full) await this.#room();
      // Asked for each piece: a failover while this write waited may have
      // brought a server whose max_payload is smaller.
      const room = this.#link.maxPayload - wire.DATA_HEADER;
      if (room < 1) {
        // Else empty pieces would be published forever.
        const failure = wire.noRoom(this.peer, this.#link.maxPayload);
        this.#fail(failure);
        throw failure;
      }
      // Trace context takes at most a quarter of a message, and no more
      // than a receiver keeps.
      const block = carrier.pending
        ? carrier.headers(
          this.#link.makeHeaders,
          Math.min(room >> 2, MAX_TRACE_HEADER_BYTES),
        )
        : undefined;
      const end = Math.min(bytes.length, at + room - (block?.size ?? 0));
      const piece = bytes.subarray(at, end);
      this.#sent = (this.#sent + 1) >>> 0;
      try {
        this.#link.nc.publish(
          this.#to,
          wire.dataMessage(this.#sent, piece),
          block === undefined ? undefined : { headers: block.headers },
        );
      } catch (error) {
        // Not sent: the peer is told why, with the number it got last (it
        // would report this one lost).
        this.#sent = (this.#sent - 1) >>> 0;
        const failure = wire.notSent(
          this.peer,
          this.#link.nc.isClosed(),
          error,
        );
        this.#fail(failure);
        throw failure;
      }
      this.#flow.sent(piece.length);
      at = end;
    }
    // The next write finds room (backpressure for the channel); these
    // bytes are all sent, even if the session is closed meanwhile.
    if (this.#flow.full) await this.#room(false);
    return bytes.length;
  }

  /**
   * Waits until the peer has at most `window` bytes unread; throws if the
   * session fails, or, `unsent` (bytes of the write are still to go), is
   * closed.
   */
  async #room(unsent = true): Promise<void> {
    while (this.#flow.full) {
      if (this.#error !== null) throw this.#error;
      if (this.#closed) {
        if (!unsent) return;
        throw new Error(`Cannot write to ${this.peer}: the session is closed`);
      }
      await this.#flow.wait();
    }
  }

  /**
   * Ends the session: tells the peer, unsubscribes. Idempotent.
   *
   * @param reason Fails the session with it instead of a clean end: reads
   *   and writes throw it, and the peer is told its message.
   */
  close(reason?: Error): void {
    if (this.#closed) return;
    if (reason !== undefined) return this.#fail(reason);
    this.#end();
    if (this.#error === null) this.#tell("");
  }

  #receive(msg: Msg): void {
    if (this.#closed) return;
    const data = msg.data;
    if (data.length === 0) {
      // The server's answer to a ping: the peer's subject has no subscriber.
      if (msg.headers?.code === 503) this.#heartbeat.noResponders();
      return;
    }
    const kind = data[0];
    if (kind === wire.DATA) {
      if (data.length <= wire.DATA_HEADER) {
        return this.#fail(wire.badMessage(this.peer, "data"));
      }
      const seq = wire.dataSeq(data);
      if (seq !== ((this.#received + 1) >>> 0)) {
        return this.#fail(
          wire.lostError(this.peer, `got #${seq} after #${this.#received}`),
        );
      }
      this.#received = seq;
      // A peer that ignores the window would fill our memory. An honest
      // one sends a message only while it counts at most a window unread,
      // and it counts no less than we hold. The message itself may be as
      // large as its own server allows: in a cluster, not ours.
      if (this.#inbox.size > this.#window) {
        const unread = this.#inbox.size + data.length - wire.DATA_HEADER;
        return this.#fail(wire.beyondWindow(this.peer, unread, this.#window));
      }
      // Before the bytes can be read: their requests take their contexts.
      const headers = msg.headers;
      if (headers !== undefined) this.#carrier.received(headers);
      this.#inbox.push(data.subarray(wire.DATA_HEADER));
      return;
    }
    if (kind === wire.CLOSE) {
      if (data.length < wire.CLOSE_HEADER) {
        return this.#fail(wire.badMessage(this.peer, "close"));
      }
      const last = wire.dataSeq(data);
      if (last !== this.#received) {
        return this.#fail(
          wire.lostError(
            this.peer,
            `it ended after #${last}, got up to #${this.#received}`,
          ),
        );
      }
      this.#closedByPeer(wire.closeReason(data));
      return;
    }
    if (data.length < wire.CONTROL_SIZE) {
      return this.#fail(wire.badMessage(this.peer, "control"));
    }
    if (kind === wire.PING) {
      const from = wire.pingFrom(data);
      if (this.#to !== null && from !== this.#to) {
        // A ping from a session that is not this one (e.g. the second
        // answer to a hello): end it.
        if (msg.reply) {
          this.#publish(msg.reply, wire.closeMessage(0, "unknown session"));
        }
        return;
      }
      this.#peerState(data);
      if (msg.reply) this.#control(wire.PONG, msg.reply);
      return;
    }
    if (kind === wire.PONG) {
      this.#heartbeat.pong();
      this.#peerState(data);
      return;
    }
    if (kind === wire.ACK) return this.#peerState(data);
    this.#fail(wire.badMessage(this.peer, `kind ${kind}`));
  }

  /** What the peer says it has sent and read. */
  #peerState(data: Uint8Array): void {
    const read = wire.peerRead(
      this.peer,
      data,
      this.#received,
      this.#flow.sentBytes,
    );
    if (read instanceof Error) return this.#fail(read);
    this.#flow.peerRead(read);
  }

  /** Publishes a control message; a PING goes to the peer with our subject as reply. */
  #control(
    kind: typeof wire.PING | typeof wire.PONG | typeof wire.ACK,
    to: string | null,
  ): void {
    const target = kind === wire.PONG ? to! : this.#to;
    if (target === null) return;
    const ping = kind === wire.PING;
    this.#reported = this.#read;
    this.#publish(
      target,
      wire.controlMessage(
        kind,
        this.#sent,
        this.#read,
        ping ? this.subject : undefined,
      ),
      ping ? this.subject : undefined,
    );
  }

  #publish(to: string, message: Uint8Array, reply?: string): void {
    try {
      this.#link.nc.publish(to, message, reply ? { reply } : undefined);
    } catch (error) {
      this.#fail(error as Error);
    }
  }

  #closedByPeer(reason: string): void {
    if (reason === "") {
      // Bytes still queued are read first, then the end.
      this.#ended = true;
      this.#inbox.wake();
      this.#end();
    } else {
      this.#fail(new Error(`${this.peer} ended the session: ${reason}`), false);
    }
  }

  /** Fails the session: reads throw `error`, writes too; the peer is told. */
  #fail(error: Error, tell = true): void {
    if (this.#closed) return;
    this.#error = error;
    this.#end();
    if (tell) this.#tell(error.message);
  }

  #tell(reason: string): void {
    if (this.#to === null) return;
    try {
      this.#link.nc.publish(this.#to, wire.closeMessage(this.#sent, reason));
    } catch {
      // The connection is closed: the peer learns it from its pings.
    }
  }

  #end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ended = true;
    this.#heartbeat.stop();
    try {
      this.#sub.unsubscribe();
    } catch {
      // The connection is closed.
    }
    this.#inbox.wake();
    this.#flow.open();
    this.#onClose?.();
  }
}
