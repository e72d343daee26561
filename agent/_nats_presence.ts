// A container's presence on NATS, over nats/attach_nats.ts, which is
// imported here dynamically, on first use: a program that never uses a
// NATS address does not run it, nor load nats.js (which nats/ itself
// loads only when it opens a connection).
import { delay } from "../channel/_connect.ts";
import { callHook } from "../channel/_hook.ts";
import type { Transport } from "../channel/transport.ts";
import { ConnectionClosedError } from "../errors.ts";
import type { NatsAttachment } from "../nats/attach_nats.ts";
import type { NatsConnectOptions } from "../nats/nats_client.ts";
import {
  checkPositive,
  checkSessionOptions,
} from "../nats/_session_options.ts";
import type { ContainerNatsOptions } from "./container_options.ts";

/** A container's name on NATS: tokens of letters, digits, `_` and `-`, separated by dots. */
const NATS_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Options that are the container's, not nats.js's. */
const OWN_OPTIONS = [
  "name",
  "connection",
  "prefix",
  "session",
  "maxSessions",
  "onStatus",
];

/** Whether `name` can be a container's name on NATS (at most 200 characters). */
export function isNatsName(name: string): boolean {
  return name.length <= 200 && NATS_NAME.test(name);
}

/**
 * The name a container created at `addr` with `options` takes on NATS, or
 * undefined if it stays off NATS; checks the options before anything is
 * loaded or opened.
 *
 * @throws {TypeError} For a NATS address without `options`, a name that
 *   differs from the address's or is missing or invalid, or malformed
 *   options.
 * @throws {RangeError} For session timings or limits out of range.
 */
export function natsNameOf(
  addr: unknown,
  options: ContainerNatsOptions | undefined,
): string | undefined {
  const fromAddress = typeof addr === "string" && addr.startsWith("nats://")
    ? addr.slice("nats://".length).replace(/\/$/, "")
    : undefined;
  if (fromAddress !== undefined && !isNatsName(fromAddress)) {
    throw new TypeError(
      `Invalid NATS address "${addr}": expected "nats://<name>", the name made of tokens of letters, digits, "_" and "-", separated by "."`,
    );
  }
  if (options === undefined) {
    if (fromAddress === undefined) return undefined;
    throw new TypeError(
      `Cannot create container "${addr}": a NATS address needs options.nats (e.g. { nats: { servers: "127.0.0.1:4222" } })`,
    );
  }
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `options.nats must be an object of NATS connection options, got ${
        String(options)
      }`,
    );
  }
  const name = options.name ?? fromAddress;
  if (fromAddress !== undefined && name !== fromAddress) {
    throw new TypeError(
      `Cannot create container "${addr}": options.nats.name "${name}" is another name`,
    );
  }
  if (typeof name !== "string" || !isNatsName(name)) {
    throw new TypeError(
      name === undefined
        ? `Cannot put container "${
          String(addr)
        }" on NATS: options.nats.name is missing (its NATS address is nats://<name>/)`
        : `Invalid NATS container name ${
          JSON.stringify(name)
        }: tokens of letters, digits, "_" and "-", separated by "."`,
    );
  }
  const connection = options.connection;
  if (
    connection !== undefined &&
    (typeof connection?.publish !== "function" ||
      typeof connection?.subscribe !== "function")
  ) {
    throw new TypeError(
      "options.nats.connection must be an open nats.js connection",
    );
  }
  checkSessionOptions(options.session ?? {}, "options.nats.session");
  checkPositive("options.nats.maxSessions", options.maxSessions, true);
  if (
    options.onStatus !== undefined && typeof options.onStatus !== "function"
  ) {
    throw new TypeError(
      `options.nats.onStatus must be a function, got ${typeof options
        .onStatus}`,
    );
  }
  return name;
}

/**
 * A container's presence on NATS under a claimed name: accepts sessions
 * from other containers and opens sessions to them.
 */
export class NatsPresence {
  /** `"nats://<name>/"`. */
  readonly addr: string;
  #attachment: NatsAttachment;

  private constructor(attachment: NatsAttachment) {
    this.#attachment = attachment;
    this.addr = attachment.addr;
  }

  /**
   * Loads the NATS module and claims `name`.
   *
   * @param name A name checked by {@linkcode natsNameOf}.
   * @param options The container's NATS options.
   * @param onSession Serves a session another container opened; `from`
   *   is the `nats://<name>/` it claims (checked, but not verified), or
   *   `"nats://?/"`.
   * @throws {TypeError} If a live container holds the name.
   * @throws {Error} If NATS cannot be reached.
   */
  static async attach(
    name: string,
    options: ContainerNatsOptions,
    onSession: (transport: Transport, from: string) => void,
  ): Promise<NatsPresence> {
    const { attachNats } = await import("../nats/attach_nats.ts");
    const connectOptions: NatsConnectOptions = { ...options };
    for (const key of OWN_OPTIONS) delete connectOptions[key];
    const attachment = await attachNats({
      nats: options.connection ??
        { ...connectOptions, name: `aiomas nats://${name}/` },
      name,
      prefix: options.prefix,
      ...options.session,
      maxSessions: options.maxSessions,
      onSession: (transport, from) => {
        const claimed = /^nats:\/\/([^/]*)\/$/.exec(from)?.[1];
        onSession(
          transport,
          claimed !== undefined && isNatsName(claimed) ? from : "nats://?/",
        );
      },
    });
    const onStatus = options.onStatus;
    if (onStatus !== undefined) {
      attachment.onStatus((status) => callHook("onStatus", onStatus, status));
    }
    return new NatsPresence(attachment);
  }

  /**
   * Opens a session to the container at `container` (`"nats://<name>/"`);
   * with `retry`, one that has no holder yet is asked again as a refused
   * TCP connection is (after 0.5 s, then 1.5 times longer each time, at
   * most 30 s apart) until `signal` aborts; `onRetry` is told of each
   * attempt that will be retried.
   *
   * @throws {ConnectionClosedError} Naming the address: no container holds
   *   the name (at once: NATS no-responders), it did not answer, or this
   *   one is detached.
   * @throws The signal's reason when it aborts.
   */
  async dial(
    container: string,
    retry: boolean,
    signal: AbortSignal,
    onRetry?: (error: unknown) => void,
  ): Promise<Transport> {
    let wait = 500;
    for (;;) {
      try {
        return await this.#attachment.dial(container, { signal });
      } catch (error) {
        signal.throwIfAborted();
        const failed = new ConnectionClosedError(
          `Cannot connect to ${container}: ${(error as Error).message}`,
          { cause: error },
        );
        if (!retry || !isNoResponders(error)) throw failed;
        onRetry?.(failed);
        await delay(wait, signal);
        wait = Math.min(wait * 1.5, 30_000);
      }
    }
  }

  /**
   * Gives up the name and closes the sessions still open (close the
   * channels over them first). Idempotent.
   */
  close(): Promise<void> {
    return this.#attachment.close();
  }
}

/** Whether a failed dial met a name nobody holds (NATS no-responders). */
function isNoResponders(error: unknown): boolean {
  const cause = (error as { cause?: { isNoResponders?: () => boolean } })
    ?.cause;
  return typeof cause?.isNoResponders === "function" &&
    cause.isNoResponders();
}
