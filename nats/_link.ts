import {
  loadHeaders,
  type MsgHeaders,
  type NatsConnection,
  type NatsHandle,
  type Status,
} from "./_nats.ts";
import { callHook } from "../channel/_hook.ts";

/** The default of `max_payload` when the server has not said. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/**
 * A NATS connection as the sessions over it see it: whether it is up, and
 * an epoch that changes at every disconnect and reconnect, so that a ping
 * lost to our own failover is not blamed on the peer.
 */
export class NatsLink {
  readonly nc: NatsConnection;
  readonly owned: boolean;
  connected = true;
  epoch = 0;
  /** nats.js's `headers()`, once {@linkcode NatsLink.loadHeaders} has loaded it. */
  makeHeaders: (() => MsgHeaders) | undefined;
  #loadingHeaders: Promise<void> | undefined;
  #listeners = new Set<(status: Status) => void>();
  #statusIterator: AsyncIterable<Status> & { stop?: () => void };
  #watching: Promise<void>;

  constructor(handle: NatsHandle) {
    this.nc = handle.nc;
    this.owned = handle.owned;
    this.#statusIterator = this.nc.status() as AsyncIterable<Status> & {
      stop?: () => void;
    };
    this.#watching = this.#watch();
  }

  /** The server's largest message, which may change with the server. */
  get maxPayload(): number {
    return this.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
  }

  /** Loads nats.js's `headers()` into `makeHeaders`, once; it stays unset if nats.js cannot be loaded. */
  loadHeaders(): Promise<void> {
    this.#loadingHeaders ??= loadHeaders().then((make) => {
      this.makeHeaders = make;
    });
    return this.#loadingHeaders;
  }

  /** Calls `listener` with every status event; returns a function that stops it. */
  onStatus(listener: (status: Status) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Calls the listeners with `status` (nats.js's, or one of ours, such as a lost claim). */
  report(status: Status): void {
    for (const listener of this.#listeners) {
      // A listener's bug must not end the watch: liveness depends on it.
      callHook("a NATS status listener", listener, status);
    }
  }

  /** Stops watching, and closes the connection if it is ours. */
  async close(): Promise<void> {
    if (this.owned) await this.nc.close().catch(() => {});
    this.#statusIterator.stop?.();
    await this.#watching;
  }

  async #watch(): Promise<void> {
    try {
      for await (const status of this.#statusIterator) {
        if (status.type === "disconnect" || status.type === "reconnecting") {
          if (this.connected) this.epoch++;
          this.connected = false;
        } else if (status.type === "reconnect") {
          this.connected = true;
          this.epoch++;
        } else if (status.type === "close") {
          this.connected = false;
        }
        this.report(status);
      }
    } catch {
      // The connection closed.
    }
  }
}
