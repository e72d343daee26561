// The options of NatsEndpoint, and what a session's opener says of itself.
import type { NatsOption } from "./nats_client.ts";
import type { NatsSessionOptions } from "./_session_options.ts";
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
   * this one answers later claims.
   *
   * @default {false}
   */
  exclusive?: boolean;
  /** The name sent in hellos, for the peer's error messages and references. @default {""} */
  name?: string;
  /** Called with each accepted session; it owns the transport from then on. */
  onSession?: (transport: NatsTransport, hello: NatsHello) => void;
  /**
   * How many accepted sessions may be open at once; further hellos are
   * refused.
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
