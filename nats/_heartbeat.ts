import { deadlineTimer } from "../channel/_channel_options.ts";
import type { NatsLink } from "./_link.ts";
import { serverOf } from "./_nats.ts";

/** While a ping waits, or the peer's subject had no subscriber, check this often. */
const SHORT_TICK = 100;

/** What a {@linkcode Heartbeat} does: send a ping, or give up on the peer. */
export interface HeartbeatActions {
  ping(): void;
  fail(error: Error): void;
}

/** A tick later than this (ms) means our own event loop was blocked. */
const STALL = 250;
/** How long the peer's subject may have no subscriber at most, in ms. */
const MAX_GRACE = 500;

/**
 * The liveness of a session's peer: pings every `heartbeat` ms; fails
 * when a ping is unanswered for `timeout` ms, or when the peer's subject
 * has had no subscriber (NATS no-responders) for `min(500, timeout / 2)`
 * ms. Judges nothing while our own connection is down, for up to
 * `timeout` ms (then it fails), and forgets what was pending when it comes
 * back (the epoch changed). Time our own event
 * loop was blocked is not counted: an answer may be waiting unread.
 */
export class Heartbeat {
  #link: NatsLink;
  #heartbeat: number;
  #timeout: number;
  #peer: string;
  #actions: HeartbeatActions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the scheduled tick is due. */
  #due = 0;
  #pingAt: number | null = null;
  #epoch = 0;
  #silentSince: number | null = null;
  /** Since when our own connection has been down, or null. */
  #downSince: number | null = null;
  #stopped = false;
  #unwatch: (() => void) | undefined;

  constructor(
    link: NatsLink,
    options: { heartbeat?: number; timeout?: number },
    peer: string,
    actions: HeartbeatActions,
  ) {
    this.#link = link;
    this.#heartbeat = options.heartbeat ?? 400;
    this.#timeout = options.timeout ?? 5000;
    this.#peer = peer;
    this.#actions = actions;
  }

  start(): void {
    this.#schedule(this.#heartbeat);
    // Back on NATS: ping at once, so that both sides learn now whether
    // messages were lost meanwhile.
    this.#unwatch = this.#link.onStatus((status) => {
      if (status.type === "reconnect") this.#schedule(0);
    });
  }

  stop(): void {
    this.#stopped = true;
    this.#unwatch?.();
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** The peer answered a ping. */
  pong(): void {
    if (this.#epoch === this.#link.epoch) this.#pingAt = null;
    this.#silentSince = null;
  }

  /** The server answered a ping: nobody subscribes to the peer's subject. */
  noResponders(): void {
    if (this.#epoch !== this.#link.epoch) return;
    this.#pingAt = null;
    this.#silentSince ??= performance.now();
    this.#schedule(SHORT_TICK);
  }

  #tick = (): void => {
    this.#timer = undefined;
    if (this.#stopped) return;
    const link = this.#link;
    if (link.nc.isClosed()) {
      return this.#actions.fail(
        new Error(
          `The NATS connection (server ${
            serverOf(link.nc)
          }) is closed: by its owner, or nats.js gave up reconnecting`,
        ),
      );
    }
    const now = performance.now();
    if (!link.connected || this.#epoch !== link.epoch) {
      // Our own connection moved: what was pending says nothing of the peer.
      this.#pingAt = null;
      this.#silentSince = null;
      this.#epoch = link.epoch;
      if (!link.connected) {
        // Not for ever: what the peer sent meanwhile is lost, and calls
        // would wait for as long as the server is gone.
        this.#downSince ??= now;
        if (now - this.#downSince >= this.#timeout) {
          return this.#actions.fail(
            new Error(
              `The NATS connection (server ${
                serverOf(link.nc)
              }) has been down for ${this.#timeout} ms: ${this.#peer} cannot be reached`,
            ),
          );
        }
        return this.#schedule(Math.min(this.#heartbeat, this.#timeout));
      }
    }
    this.#downSince = null;
    const late = now - this.#due;
    if (late > STALL) {
      // Our own event loop was blocked: answers may wait unread. Do not
      // count that time; judge after the loop has read what came.
      if (this.#pingAt !== null) this.#pingAt += late;
      if (this.#silentSince !== null) this.#silentSince += late;
      return this.#schedule(SHORT_TICK);
    }
    if (this.#pingAt !== null && now - this.#pingAt >= this.#timeout) {
      return this.#actions.fail(
        new Error(
          `${this.#peer} did not answer a ping within ${this.#timeout} ms`,
        ),
      );
    }
    const grace = Math.min(MAX_GRACE, this.#timeout / 2);
    if (this.#silentSince !== null && now - this.#silentSince >= grace) {
      return this.#actions.fail(
        new Error(
          `${this.#peer} is gone: its subject has had no subscriber for ${grace} ms (NATS no responders)`,
        ),
      );
    }
    if (this.#pingAt === null) {
      this.#pingAt = now;
      this.#actions.ping();
    }
    this.#schedule(
      this.#silentSince === null && this.#pingAt === now
        ? this.#heartbeat
        : SHORT_TICK,
    );
  };

  #schedule(ms: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#due = performance.now() + ms;
    // A heartbeat beyond setTimeout's range is none (it would fire at once).
    this.#timer = deadlineTimer(ms, this.#tick);
  }
}
