import { within } from "../channel/_within.ts";
import type {
  NatsConnectOptions,
  NatsOption,
  NatsStatus,
} from "./nats_client.ts";

// The part of nats.js used here, as types of our own: a type import of
// nats.js would put it in the module graph (`deno info`, `deno check`) of
// every program that imports the library, NATS or not.

/** nats.js connect options. */
export type ConnectionOptions = NatsConnectOptions;
/** A nats.js status event. */
export type Status = NatsStatus;

/** A received message (nats.js `Msg`). */
export interface Msg {
  readonly data: Uint8Array;
  readonly reply?: string;
  readonly headers?: {
    readonly code: number;
    values(key: string): string[];
  };
  respond(payload?: Uint8Array | string): boolean;
}

/** Headers of a message to publish (nats.js `MsgHdrs`, made by its `headers()`). */
export interface MsgHeaders {
  append(key: string, value: string): void;
}

/** A subscription (nats.js `Subscription`). */
export interface Subscription {
  unsubscribe(): void;
}

/** An open connection (nats.js `NatsConnection`). */
export interface NatsConnection {
  readonly info?: { readonly max_payload: number };
  publish(
    subject: string,
    payload?: Uint8Array | string,
    options?: { reply?: string; headers?: MsgHeaders },
  ): void;
  subscribe(
    subject: string,
    options?: {
      queue?: string;
      callback?: (error: Error | null, msg: Msg) => void;
    },
  ): Subscription;
  request(
    subject: string,
    payload?: Uint8Array | string,
    options?: { timeout: number },
  ): Promise<Msg>;
  flush(): Promise<void>;
  close(): Promise<void>;
  isClosed(): boolean;
  getServer(): string;
  status(): AsyncIterable<Status>;
}

/** A connection in use, and whether it is ours to close. */
export interface NatsHandle {
  readonly nc: NatsConnection;
  readonly owned: boolean;
}

/**
 * The connection to use: `nats` itself, or a new one made with nats.js,
 * which is loaded here, on first use, and never by the rest of the library.
 */
export async function useNats(nats: NatsOption): Promise<NatsHandle> {
  if (isConnection(nats)) {
    return { nc: nats as unknown as NatsConnection, owned: false };
  }
  const { connect } = await loadNatsClient();
  try {
    return { nc: await connect(nats as ConnectionOptions), owned: true };
  } catch (error) {
    throw withServers(error, (nats as NatsConnectOptions).servers);
  }
}

/**
 * nats.js's connect error (`connection refused`, …) naming the servers it
 * tried. The error is new and ours alone, so it keeps its class and code
 * and only its message grows.
 */
function withServers(
  error: unknown,
  servers: string | string[] | undefined,
): unknown {
  if (error instanceof Error) {
    // Without servers nats.js tries its default.
    const list = typeof servers === "string"
      ? servers
      : servers?.join(", ") || "127.0.0.1:4222";
    error.message = `${error.message} (NATS servers: ${list})`;
  }
  return error;
}

/**
 * The nats.js module. Its specifier is not a literal on purpose: Deno
 * fetches the literal targets of dynamic imports with the program, and
 * this one is fetched only when a NATS connection is opened.
 */
function loadNatsClient(): Promise<{
  connect(options: ConnectionOptions): Promise<NatsConnection>;
  headers(): MsgHeaders;
}> {
  return import(NATS_CLIENT);
}

/**
 * nats.js's `headers()`, loaded on first use (the first time a session
 * sends trace context): a connection the user made may come from a nats.js
 * that was loaded without it. Undefined if nats.js cannot be loaded.
 */
export async function loadHeaders(): Promise<
  (() => MsgHeaders) | undefined
> {
  try {
    const { headers } = await loadNatsClient();
    return headers;
  } catch {
    return undefined;
  }
}

const NATS_CLIENT: string = "npm:@nats-io/transport-node@3.4.0";

function isConnection(nats: NatsOption): boolean {
  const candidate = nats as Partial<NatsConnection>;
  return typeof candidate.publish === "function" &&
    typeof candidate.subscribe === "function";
}

/**
 * `nc.flush()`, or a `TimeoutError` naming the server when it has not
 * answered within `ms` (frozen, or the connection reconnecting): nats.js's
 * own flush waits for as long as that lasts. Rejects with the reason of
 * `signal` when it aborts first.
 */
export function flushWithin(
  nc: NatsConnection,
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  return within(
    nc.flush(),
    ms,
    signal,
    `Waiting for an answer from the NATS server ${serverOf(nc)}`,
    () => {},
  );
}

/** The server `nc` is connected (or reconnecting) to, for messages. */
export function serverOf(nc: NatsConnection): string {
  try {
    return nc.getServer() || "(none)";
  } catch {
    return "(unknown)";
  }
}

/** Whether a nats.js request failed because nobody subscribes to the subject. */
export function isNoResponders(error: unknown): boolean {
  const candidate = error as { isNoResponders?: () => boolean } | null;
  return typeof candidate?.isNoResponders === "function" &&
    candidate.isNoResponders();
}

/** Whether a nats.js request failed for want of an answer in time. */
export function isTimeout(error: unknown): boolean {
  const cause = (error as { cause?: { name?: string } } | null)?.cause;
  return (error as Error | null)?.name === "TimeoutError" ||
    cause?.name === "TimeoutError";
}

/** A new subject no one else uses, under the connection's inbox prefix. */
export function newInbox(nc: NatsConnection): string {
  const prefix =
    (nc as unknown as { options?: { inboxPrefix?: string } }).options
      ?.inboxPrefix ?? "_INBOX";
  const random = crypto.getRandomValues(new Uint8Array(16));
  let token = "";
  for (const byte of random) token += byte.toString(36).padStart(2, "0");
  return `${prefix}.${token}`;
}

/** A subject a peer may name for us to publish to: no wildcard, no space, bounded. */
export function isPlainSubject(subject: unknown): subject is string {
  return typeof subject === "string" && subject.length > 0 &&
    subject.length <= 256 && /^[^\s*>.]+(\.[^\s*>.]+)*$/.test(subject);
}

/**
 * A subscription callback that never throws: nats.js reads the whole
 * connection in the loop that calls it, and a throw (a peer's malformed
 * headers, a user callback's bug) would end that loop, leaving every
 * subscription on the connection deaf. `onThrow` gets what it threw, and
 * the message.
 */
export function guarded(
  callback: (error: Error | null, msg: Msg) => void,
  onThrow: (thrown: unknown, msg: Msg) => void,
): (error: Error | null, msg: Msg) => void {
  return (error, msg) => {
    try {
      callback(error, msg);
    } catch (thrown) {
      onThrow(thrown, msg);
    }
  };
}

/** Answers a hello that failed before a session began (e.g. the connection drains). */
export function refuseHello(msg: Msg, error: unknown): void {
  try {
    msg.respond(
      JSON.stringify({
        error: `cannot open a session: ${
          error instanceof Error ? error.message : String(error)
        }`.slice(0, 1000),
      }),
    );
  } catch {
    // The connection is closed or draining: the opener times out.
  }
}
