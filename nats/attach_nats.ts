import type { NatsOption, NatsStatus } from "./nats_client.ts";
import { NatsEndpoint } from "./nats_endpoint.ts";
import type { NatsSessionOptions, NatsTransport } from "./nats_transport.ts";

/** The subject prefix of container names. */
export const DEFAULT_NATS_PREFIX = "aiomas";

/** Options of {@linkcode attachNats}. */
export interface AttachNatsOptions extends NatsSessionOptions {
  /**
   * The NATS connection, or nats.js `connect` options (`servers`,
   * `user`/`pass`, `token`, `tls`, reconnect settings…).
   */
  nats: NatsOption;
  /**
   * The container's name: its address is `nats://<name>/`. Tokens of
   * letters, digits, `_` and `-`, separated by dots.
   */
  name: string;
  /**
   * The subject prefix: the container accepts sessions on
   * `<prefix>.<name>`. Containers that talk to each other use the same.
   *
   * @default {"aiomas"}
   */
  prefix?: string;
  /**
   * Called with each session another container opens to this one, and
   * the name that container gave (unverified: a peer on the same NATS
   * account can claim any name). Serve it; do not use it for calls to
   * that address.
   */
  onSession: (transport: NatsTransport, from: string) => void | Promise<void>;
  /** How many sessions from other containers may be open at once. @default {1024} */
  maxSessions?: number;
}

/** Options of {@linkcode NatsAttachment.dial}. */
export interface NatsDialOptions {
  /** How long to wait for the other container to answer, in milliseconds. @default {5000} */
  timeout?: number;
  /** Stops waiting when aborted (the session, if it opens, is closed). */
  signal?: AbortSignal;
}

/**
 * A container's presence on NATS, made by {@linkcode attachNats}: it holds
 * the name `nats://<name>/` (claimed: a second live holder is refused),
 * accepts sessions from other containers, and opens sessions to them.
 */
export class NatsAttachment implements AsyncDisposable {
  /** The container's NATS address, `"nats://<name>/"`. */
  readonly addr: string;
  /** The endpoint underneath. */
  readonly endpoint: NatsEndpoint;
  #prefix: string;

  /**
   * Wraps an endpoint; use {@linkcode attachNats}.
   *
   * @param endpoint The endpoint, accepting on the container's subject.
   * @param name The container's name.
   * @param prefix The subject prefix.
   */
  constructor(endpoint: NatsEndpoint, name: string, prefix: string) {
    this.endpoint = endpoint;
    this.addr = `nats://${name}/`;
    this.#prefix = prefix;
  }

  /**
   * Opens a session to the container at `addr`.
   *
   * @param addr Its address, `"nats://<name>/"` (an agent address's container part).
   * @param options `timeout` (ms) and `signal`.
   * @returns The session, for a `Channel`.
   * @throws {TypeError} For an address that is not `nats://<name>/`.
   * @throws {ConnectionClosedError} If no container holds that name (at
   *   once: NATS no-responders), it did not answer in time, or this one
   *   is detached.
   */
  async dial(
    addr: string,
    options: NatsDialOptions = {},
  ): Promise<NatsTransport> {
    const name = natsContainerName(addr);
    options.signal?.throwIfAborted();
    const opening = this.endpoint.open(`${this.#prefix}.${name}`, {
      timeout: options.timeout,
      peer: `nats://${name}/`,
    });
    const signal = options.signal;
    if (signal === undefined) return await opening;
    const aborted = Promise.withResolvers<never>();
    const onAbort = () => aborted.reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await Promise.race([opening, aborted.promise]);
    } catch (error) {
      opening.then((transport) => transport.close(), () => {});
      throw error;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  /**
   * The NATS connection's status events (see `NatsEndpoint.status`).
   *
   * @returns An async iterable of events, ending when the connection closes.
   */
  status(): AsyncIterable<NatsStatus> {
    return this.endpoint.status();
  }

  /**
   * Calls `listener` with every status event of the NATS connection.
   *
   * @param listener Called with each event.
   * @returns A function that stops the calls.
   */
  onStatus(listener: (status: NatsStatus) => void): () => void {
    return this.endpoint.onStatus(listener);
  }

  /**
   * Gives up the name and closes the sessions still open (close the
   * channels over them first for a graceful end). Idempotent.
   *
   * @returns A promise that settles when everything is released.
   */
  close(): Promise<void> {
    return this.endpoint.close();
  }

  /**
   * Detaches (for `await using`).
   *
   * @returns A promise that settles when everything is released.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Puts a container on NATS under `options.name`: claims the name (fails
 * if a live container holds it), accepts sessions from other containers
 * (`options.onSession`), and opens sessions to them
 * ({@linkcode NatsAttachment.dial}). A container uses it for its
 * `nats://` address; nothing here knows about containers.
 *
 * @param options Connection, name, session handler; see {@linkcode AttachNatsOptions}.
 * @returns The attachment.
 * @throws {TypeError} For an invalid name, or a name a live container holds.
 * @throws {Error} If NATS cannot be reached.
 *
 * @example
 * ```ts ignore
 * import { attachNats } from "@aiomas/aiomas/nats";
 * import { Channel } from "@aiomas/aiomas";
 *
 * await using attachment = await attachNats({
 *   nats: { servers: "127.0.0.1:4222" },
 *   name: "alice",
 *   onSession: (transport, from) => {
 *     // Serve it, e.g. with an RpcClient over a Channel.
 *   },
 * });
 * await using channel = new Channel(await attachment.dial("nats://bob/"));
 * ```
 */
export async function attachNats(
  options: AttachNatsOptions,
): Promise<NatsAttachment> {
  const name = checkName(options.name);
  const prefix = options.prefix ?? DEFAULT_NATS_PREFIX;
  const onSession = options.onSession;
  try {
    const endpoint = await NatsEndpoint.create({
      ...options,
      subject: `${prefix}.${name}`,
      exclusive: true,
      name: `nats://${name}/`,
      onSession: (transport, hello) => onSession(transport, hello.from),
    });
    return new NatsAttachment(endpoint, name, prefix);
  } catch (error) {
    if (error instanceof TypeError && /claim/.test(error.message)) {
      // Unanswered, the name may be free: a wildcard subscriber got it.
      const why = /did not answer the claim/.test(error.message)
        ? "no holder answered"
        : "the name is taken";
      throw new TypeError(
        `Cannot attach nats://${name}/: ${why} (${error.message})`,
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * The name in a container address `nats://<name>/`.
 *
 * @param addr The address.
 * @returns The name.
 * @throws {TypeError} If it is not such an address.
 */
export function natsContainerName(addr: string): string {
  const match = /^nats:\/\/([^/]+)\/$/.exec(addr);
  if (match === null) {
    throw new TypeError(
      `Invalid NATS container address ${
        JSON.stringify(addr)
      }: expected "nats://<name>/"`,
    );
  }
  return checkName(match[1]);
}

function checkName(name: string): string {
  if (
    typeof name !== "string" || name.length > 200 ||
    !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(name)
  ) {
    throw new TypeError(
      `Invalid NATS container name ${
        JSON.stringify(name)
      }: tokens of letters, digits, "_" and "-", separated by "."`,
    );
  }
  return name;
}
