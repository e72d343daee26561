// A session's handshake: the opener's NATS request to the peer's subject
// and the answer checked, and the hellos an accepting endpoint reads.
import { MAX_DELAY } from "../channel/_channel_options.ts";
import type { ConnectionClosedError } from "../errors.ts";
import {
  isNoResponders,
  isPlainSubject,
  isTimeout,
  type Msg,
  type NatsConnection,
} from "./_nats.ts";
import { parseJson } from "./_claim.ts";
import { closeMessage } from "./_session_wire.ts";
import type { NatsHello } from "./_endpoint_options.ts";
import type { NatsTransport } from "./nats_transport.ts";

/** What the peer answered: where to publish, and its window. */
export interface SessionAnswer {
  /** The peer's subject for this session. */
  readonly to: string;
  /** The window it announced (unchecked). */
  readonly window: unknown;
}

/**
 * Sends `hello` to the endpoint on `subject` and waits `timeout` ms for
 * its answer, or until `signal` aborts: then it rejects at once (with
 * `cannot(closed)`), and a session the peer answers later is ended on its
 * side (told, rather than left to find out by its pings).
 *
 * @throws {ConnectionClosedError} Made by `cannot`: nobody listens, no
 *   answer in time, a refusal, an answer that is not a session, or the
 *   signal aborted.
 */
export async function askSession(
  nc: NatsConnection,
  request: {
    subject: string;
    hello: string;
    timeout: number;
    cannot: (why: string, cause?: unknown) => ConnectionClosedError;
    signal: AbortSignal;
    closed: string;
  },
): Promise<SessionAnswer> {
  const { subject, timeout, cannot, signal } = request;
  if (signal.aborted) throw cannot(request.closed);
  // nats.js's own timer: beyond setTimeout's range it fires at once. It
  // cannot be cancelled; closing the connection ends it.
  const asked = nc.request(subject, request.hello, {
    timeout: Math.min(timeout, MAX_DELAY),
  });
  const gaveUp = Promise.withResolvers<never>();
  const onAbort = () => {
    gaveUp.reject(cannot(request.closed));
    asked.then((reply) => {
      const to = (parseJson(reply.data) as { subject?: unknown } | null)
        ?.subject;
      if (isPlainSubject(to) && !nc.isClosed()) {
        nc.publish(to, closeMessage(0, ""));
      }
    }).catch(() => {});
  };
  signal.addEventListener("abort", onAbort, { once: true });
  let answer: unknown;
  try {
    const reply = await Promise.race([asked, gaveUp.promise]);
    answer = parseJson(reply.data);
  } catch (error) {
    if (signal.aborted) throw cannot(request.closed);
    throw cannot(
      isNoResponders(error)
        ? "nobody listens there (no responders)"
        : isTimeout(error)
        ? `no answer within ${timeout} ms`
        : (error as Error).message,
      error,
    );
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  const to = (answer as { subject?: unknown } | null)?.subject;
  if (!isPlainSubject(to)) {
    const why = (answer as { error?: unknown } | null)?.error;
    throw cannot(typeof why === "string" ? why : "the answer is not a session");
  }
  return { to, window: (answer as { window?: unknown }).window };
}

/** The largest hello read; a real one is a few hundred bytes. */
const MAX_HELLO = 4096;

/** A hello an accepting endpoint got: an exclusive claim's, or a session's. */
export type Hello =
  | { readonly op: "claim"; readonly claim: { id?: unknown; name?: unknown } }
  | {
    readonly op: "open";
    /** The opener's subject for the session. */
    readonly to: string;
    readonly from: unknown;
    readonly window: unknown;
  };

/** Reads the hello in `msg`, or undefined if it is neither. */
export function readHello(msg: Msg): Hello | undefined {
  const hello = msg.data.length <= MAX_HELLO ? parseJson(msg.data) : null;
  const op = (hello as { op?: unknown } | null)?.op;
  if (op === "claim") {
    return { op, claim: hello as { id?: unknown; name?: unknown } };
  }
  const { subject: to, from, window } = (hello ?? {}) as {
    subject?: unknown;
    from?: unknown;
    window?: unknown;
  };
  if (op !== "open" || !isPlainSubject(to)) return undefined;
  return { op, to, from, window };
}

/**
 * Runs an endpoint's `onSession` handler. What it throws, or its promise
 * rejects with, is logged and closes the session, as a socket server does
 * with a failing connection handler: a session that a peer ended must not
 * end the process through an async handler.
 */
export function runOnSession(
  onSession: (
    transport: NatsTransport,
    hello: NatsHello,
  ) => void | Promise<void>,
  transport: NatsTransport,
  hello: NatsHello,
): void {
  const failed = (error: unknown): void => {
    console.error("aiomas: onSession failed:", error);
    transport.close();
  };
  try {
    const running = onSession(transport, hello);
    if (running instanceof Promise) running.catch(failed);
  } catch (error) {
    failed(error);
  }
}
