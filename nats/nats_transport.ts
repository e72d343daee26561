import type { TraceContextCarrier, Transport } from "../channel/transport.ts";
import { Heartbeat } from "./_heartbeat.ts";
import type { NatsLink } from "./_link.ts";
import type { Msg, Subscription } from "./_nats.ts";
import { ReceiveQueue } from "./_receive_queue.ts";
import { SendWindow } from "./_send_window.ts";
import {
  ACK,
  CLOSE,
  closeMessage,
  closeReason,
  CONTROL_SIZE,
  controlMessage,
  DATA,
  DATA_HEADER,
  dataMessage,
  dataSeq,
  PING,
  pingFrom,
  PONG,
  readControl,
} from "./_session_wire.ts";
import type { NatsSessionOptions } from "./_session_options.ts";
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
 * become one NATS message each, split at the server's `max_payload`. NATS
 * keeps the order of the messages of one publisher to one subscriber; the
 * messages are numbered, and a gap (a message lost to a server failover)
 * fails the session at once instead of corrupting the stream.
 *
 * Liveness: every `heartbeat` ms each side publishes a ping to the peer's
 * subject with its own subject as reply subject. The peer answers with a
 * pong; if the peer's process is gone, the server answers with NATS's
 * no-responders status instead. A ping unanswered for `timeout` ms, or a
 * peer without subscriber for `min(500, timeout / 2)` ms, fails the session, and the
 * channel's pending calls reject with `ConnectionClosedError`. While this
 * side's own NATS connection is down (reconnecting), the peer is not
 * judged.
 *
 * Flow control: each side tells the other how much it has read (in pings,
 * pongs and acks); a writer waits while more than `window` bytes are
 * unread by the peer.
 *
 * Trace context: the calls' W3C trace context travels in the NATS headers
 * of the data messages (`Aiomas-Trace`, see `docs/observability.md`), so a
 * server span is the child of its client span across processes; messages
 * of calls without one have no headers.
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
  // Receiving.
  #inbox = new ReceiveQueue();
  #received = 0;
  #read = 0;
  /** Bytes received and not read yet. */
  #queued = 0;
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
      ping: () => this.#control(PING, null),
      fail: (error) => this.#fail(error),
    });
    this.#window = options.window ?? 4 * 1024 * 1024;
    this.#flow = new SendWindow(this.#window);
    this.#onClose = onClose;
    this.#sub = link.nc.subscribe(subject, {
      callback: (error, msg) => {
        // nats.js reads the whole connection in the loop that calls this:
        // a throw (a peer's malformed headers, say) would end it for every
        // session on it. Only this session fails.
        try {
          if (error !== null) this.#fail(error);
          else this.#receive(msg);
        } catch (thrown) {
          this.#fail(
            new Error(
              `Cannot read a message from ${this.peer}: ${
                thrown instanceof Error ? thrown.message : String(thrown)
              }`,
              { cause: thrown },
            ),
          );
        }
      },
    });
  }

  /**
   * Starts the session: this side publishes to `to` from now on and pings
   * the peer.
   *
   * @param to The peer's subject.
   */
  start(to: string): void {
    if (this.#closed) return;
    this.#to = to;
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
    this.#queued -= n;
    // Tell the writer before it has to wait for a ping to learn it.
    if (this.#read - this.#reported >= this.#window / 4) {
      this.#control(ACK, null);
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
    const room = this.#link.maxPayload - DATA_HEADER;
    for (let at = 0; at < bytes.length;) {
      // The peer fails a session with more than window + max_payload
      // bytes unread: a message goes only when what it has is within the
      // window.
      if (this.#flow.full) await this.#room();
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
      this.#link.nc.publish(
        this.#to,
        dataMessage(this.#sent, piece),
        block === undefined ? undefined : { headers: block.headers },
      );
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

  /** Ends the session: tells the peer, unsubscribes. Idempotent. */
  close(): void {
    if (this.#closed) return;
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
    if (kind === DATA) {
      if (data.length <= DATA_HEADER) return this.#fail(this.#bad("data"));
      const seq = dataSeq(data);
      if (seq !== ((this.#received + 1) >>> 0)) {
        return this.#fail(
          new Error(
            `Messages from ${this.peer} were lost (got #${seq} after #${this.#received}), e.g. in a NATS server failover`,
          ),
        );
      }
      this.#received = seq;
      // A peer that ignores the window would fill our memory.
      this.#queued += data.length - DATA_HEADER;
      if (this.#queued > this.#window + this.#link.maxPayload) {
        return this.#fail(
          new Error(
            `${this.peer} sent ${this.#queued} bytes that were not read yet, beyond the window of ${this.#window}`,
          ),
        );
      }
      // Before the bytes can be read: their requests take their contexts.
      const headers = msg.headers;
      if (headers !== undefined) this.#carrier.received(headers);
      this.#inbox.push(data.subarray(DATA_HEADER));
      return;
    }
    if (kind === CLOSE) {
      this.#closedByPeer(closeReason(data));
      return;
    }
    if (data.length < CONTROL_SIZE) return this.#fail(this.#bad("control"));
    if (kind === PING) {
      const from = pingFrom(data);
      if (this.#to !== null && from !== this.#to) {
        // A ping from a session that is not this one (e.g. the second
        // answer to a hello): end it.
        if (msg.reply) {
          this.#publish(msg.reply, closeMessage("unknown session"));
        }
        return;
      }
      this.#peerState(data);
      if (msg.reply) this.#control(PONG, msg.reply);
      return;
    }
    if (kind === PONG) {
      this.#heartbeat.pong();
      this.#peerState(data);
      return;
    }
    if (kind === ACK) return this.#peerState(data);
    this.#fail(this.#bad(`kind ${kind}`));
  }

  /** What the peer says it has sent and read. */
  #peerState(data: Uint8Array): void {
    const { sent, read } = readControl(data);
    // Everything the peer sent before this message came before it.
    const behind = (sent - this.#received) >>> 0;
    if (behind !== 0 && behind < 0x80000000) {
      return this.#fail(
        new Error(
          `Messages from ${this.peer} were lost (it sent #${sent}, the last received is #${this.#received}), e.g. in a NATS server failover`,
        ),
      );
    }
    this.#flow.peerRead(read);
  }

  /** Publishes a control message; a PING goes to the peer with our subject as reply. */
  #control(
    kind: typeof PING | typeof PONG | typeof ACK,
    to: string | null,
  ): void {
    const target = kind === PONG ? to! : this.#to;
    if (target === null) return;
    const ping = kind === PING;
    this.#reported = this.#read;
    this.#publish(
      target,
      controlMessage(
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

  #bad(what: string): Error {
    return new Error(`Cannot read a ${what} message from ${this.peer}`);
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
      this.#link.nc.publish(this.#to, closeMessage(reason));
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
