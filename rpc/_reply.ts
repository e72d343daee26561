// How `RpcClient` answers a call it served: with its result, or with an
// error reply when the result cannot be encoded; and the same for a call
// served inside a server span, which ends when the answer is sent.
import { type Request, RESOLVED } from "../channel/request.ts";
import { SerializationError } from "../errors.ts";
import type { ConnectionTelemetry, TracedCall } from "./_telemetry.ts";
import { asError } from "./_thrown.ts";

/** Answers `request` with `result`. */
export function reply(request: Request, result: unknown): void {
  const sent = request.reply(result);
  // Queued at once (the common case): nothing can fail any more.
  if (sent === RESOLVED) return;
  sent.catch((error) => {
    // A result that cannot be encoded becomes an error reply.
    if (error instanceof SerializationError) {
      request.fail(error).catch(() => {});
    }
  });
}

/** Answers `request` with `error` and ends its server span, failed. */
export function failTraced(
  telemetry: ConnectionTelemetry,
  request: Request,
  served: TracedCall,
  error: unknown,
): void {
  const failure = asError(error);
  telemetry.served(served, failure);
  request.fail(failure).catch(() => {});
}

/** Answers `request` with `result` and ends its server span. */
export function replyTraced(
  telemetry: ConnectionTelemetry,
  request: Request,
  result: unknown,
  served: TracedCall,
): void {
  const sent = request.reply(result);
  if (sent === RESOLVED) return telemetry.served(served);
  sent.then(
    () => telemetry.served(served),
    (error) => {
      if (error instanceof SerializationError) {
        failTraced(telemetry, request, served, error);
      } else telemetry.served(served, error);
    },
  );
}

/**
 * Whether a handler's result is a promise. `instanceof` asks a proxy for
 * its prototype, which a revoked one answers by throwing: such a result is
 * no promise (and is refused when it is encoded).
 */
export function isPromise(value: unknown): value is Promise<unknown> {
  try {
    return value instanceof Promise;
  } catch {
    return false;
  }
}

/**
 * Answers `request` with what `result` settles to; a promise whose `then`
 * throws (e.g. a proxy of one) is a failure.
 */
export function replyLater(request: Request, result: Promise<unknown>): void {
  try {
    result.then(
      (value) => reply(request, value),
      (error) => request.fail(asError(error)).catch(() => {}),
    );
  } catch (error) {
    request.fail(asError(error)).catch(() => {});
  }
}

/** {@linkcode replyLater} for a call in a server span. */
export function replyLaterTraced(
  telemetry: ConnectionTelemetry,
  request: Request,
  result: Promise<unknown>,
  served: TracedCall,
): void {
  try {
    result.then(
      (value) => replyTraced(telemetry, request, value, served),
      (error) => failTraced(telemetry, request, served, error),
    );
  } catch (error) {
    failTraced(telemetry, request, served, error);
  }
}
