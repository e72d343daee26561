/** Options of a `NatsTransport`, as given to `NatsEndpoint`. */
export interface NatsSessionOptions {
  /**
   * How often to ping the peer, in milliseconds, while the session is
   * open.
   *
   * @default {400}
   */
  heartbeat?: number;
  /**
   * How long, in milliseconds, a ping may go unanswered before the peer
   * counts as gone (a frozen process, a cut network) and the session
   * fails; time this side's own event loop was blocked is not counted.
   * Half of it, at most 500 ms, is how long the peer's subject may have no
   * subscriber (NATS no-responders: its process or its NATS connection is
   * gone, or it is moving to another server), and all of it how long this
   * side's own connection may be down.
   *
   * @default {5000}
   */
  timeout?: number;
  /**
   * How many bytes may be sent and not yet read by the peer; writing
   * waits beyond it (NATS itself has no flow control). Each side tells the
   * other its own when the session opens, and sends at most the smaller
   * one ahead: a side fails a session whose peer sends more than its
   * window (plus one message) unread.
   *
   * @default {4194304} (4 MiB)
   */
  window?: number;
}

/** The default of {@linkcode NatsSessionOptions.window}: 4 MiB. */
export const DEFAULT_WINDOW = 4 * 1024 * 1024;

/** A `window` a peer announced: a whole number of bytes from 1 up, or none. */
export function peerWindow(value: unknown): number | undefined {
  return Number.isSafeInteger(value) && (value as number) >= 1
    ? value as number
    : undefined;
}

/**
 * Throws a `RangeError` for a session option out of range: `heartbeat`
 * and `timeout` milliseconds above 0, `window` a whole number from 1 up
 * (a fraction was announced to no peer, which then sent past it).
 *
 * @param options The options.
 * @param prefix How the message names them, e.g. `"options"`.
 */
export function checkSessionOptions(
  options: NatsSessionOptions,
  prefix: string,
): void {
  checkPositive(`${prefix}.heartbeat`, options.heartbeat, false);
  checkPositive(`${prefix}.timeout`, options.timeout, false);
  checkPositive(`${prefix}.window`, options.window, true);
}

/** Throws a `RangeError` unless `value` is undefined or a positive number. */
export function checkPositive(
  name: string,
  value: unknown,
  integer: boolean,
): void {
  if (value === undefined) return;
  if (
    typeof value !== "number" || !(value > 0) || !Number.isFinite(value) ||
    (integer && !Number.isInteger(value))
  ) {
    throw new RangeError(
      `Invalid ${name} ${String(value)}: expected ${
        integer ? "a whole number" : "milliseconds"
      } above 0`,
    );
  }
}

/**
 * Throws a `RangeError` unless `value` is undefined or milliseconds from 1
 * up (`Infinity` for none): nats.js refuses less than 1 ms for a request,
 * and reads 0 and NaN as its own 1 s.
 *
 * @param name How the message names it, e.g. `"openTimeout"`.
 * @param value The option.
 */
export function checkRequestTimeout(name: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !(value >= 1)) {
    throw new RangeError(
      `Invalid ${name} ${
        String(value)
      }: expected milliseconds from 1 up (or Infinity)`,
    );
  }
}
