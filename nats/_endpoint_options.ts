// The options of NatsEndpoint, and what a session's opener says of itself.
import type { NatsOption } from "./nats_client.ts";
import { isPlainSubject } from "./_nats.ts";
import {
  checkSessionOptions,
  type NatsSessionOptions,
} from "./_session_options.ts";
import type { NatsTransport } from "./nats_transport.ts";

/** Who opened a session, as it says in its hello (not verified). */
export interface NatsHello {
  /** The opener's name (e.g. its container address), or `""`. */
  readonly from: string;
}

/** Options of `NatsEndpoint.create`. */
export interface NatsEndpointOptions extends NatsSessionOptions {
  /**
   * The NATS connection: one you opened (and close after the endpoint),
   * or nats.js `connect` options (`servers`, `user`/`pass`, `token`,
   * `tls`, reconnect settings…) for a connection the endpoint opens and
   * closes.
   */
  nats: NatsOption;
  /** The subject to accept sessions on; without it, the endpoint only opens sessions. */
  subject?: string;
  /** The queue group of `subject`: each hello goes to one member. */
  queue?: string;
  /**
   * Claim `subject`: creating fails if a live endpoint answers on it, and
   * this one answers later claims. After each reconnection of the NATS
   * connection it asserts the claim again; if another holder keeps the
   * subject (one that stayed on NATS meanwhile), this one stops accepting
   * there, fails the sessions it accepted and reports it (see
   * `NatsEndpoint.onStatus`).
   *
   * @default {false}
   */
  exclusive?: boolean;
  /** The name sent in hellos, for the peer's error messages and references. @default {""} */
  name?: string;
  /**
   * Called with each accepted session; it owns the transport from then on.
   * If it throws, or returns a promise that rejects, the error is logged
   * with `console.error` and the session is closed.
   */
  onSession?: (
    transport: NatsTransport,
    hello: NatsHello,
  ) => void | Promise<void>;
  /**
   * How many accepted sessions may be open at once; further hellos are
   * refused. A whole number from 0 (which refuses every hello) up, or
   * `Infinity`.
   *
   * @default {1024}
   */
  maxSessions?: number;
}

/** Options of `NatsEndpoint.open`. */
export interface NatsOpenOptions {
  /** How long to wait for the peer's answer, in milliseconds. @default {5000} */
  timeout?: number;
  /** The peer as named in error messages. @default {the subject} */
  peer?: string;
}

/**
 * Throws a `TypeError` for an invalid subject or queue group, a
 * `RangeError` for session options out of range.
 */
export function checkEndpointOptions(options: NatsEndpointOptions): void {
  const subject = options.subject;
  if (subject !== undefined && !isPlainSubject(subject)) {
    throw new TypeError(
      `Invalid NATS subject ${
        JSON.stringify(subject)
      }: tokens separated by ".", without spaces or wildcards`,
    );
  }
  // nats.js writes it into the protocol line as it is: a space or a line
  // break there makes the server drop the whole connection.
  if (options.queue !== undefined && !isPlainSubject(options.queue)) {
    throw new TypeError(
      `Invalid NATS queue group ${
        JSON.stringify(options.queue)
      }: tokens separated by ".", without spaces or wildcards`,
    );
  }
  checkSessionOptions(options, "options");
  // NaN would compare as no bound at all; 0 refuses every session.
  const max = options.maxSessions;
  if (
    max !== undefined && max !== Infinity &&
    !(Number.isInteger(max) && max >= 0)
  ) {
    throw new RangeError(
      `Invalid options.maxSessions ${
        String(max)
      }: expected a whole number from 0 up, or Infinity`,
    );
  }
}
