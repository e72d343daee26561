// What travels beside a call and what a connection tells its calls: the
// W3C trace context of a client span for the peer (where the transport
// carries it, e.g. NATS headers), the parent of a server span from it, and
// the event a connection's close adds to the spans of its open calls.
import {
  type Attributes,
  type Context,
  context,
  createTraceState,
  isSpanContextValid,
  propagation,
  type Span,
  trace,
} from "npm:@opentelemetry/api@^1.9.0";
import { errorType } from "./_telemetry_metrics.ts";

/** W3C `traceparent`: version, trace id, parent id, flags. */
const TRACEPARENT =
  /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * The W3C trace context (`traceparent`, `tracestate`) of a client span, for
 * the peer: through the registered propagator, or written here if it
 * writes none (no SDK registered, or one that is not W3C).
 */
export function traceContextOf(span: Span): Record<string, string> | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), carrier);
  if (carrier.traceparent !== undefined) return carrier;
  const spanContext = span.spanContext();
  if (!isSpanContextValid(spanContext)) return undefined;
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, "0");
  carrier.traceparent =
    `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
  const state = spanContext.traceState?.serialize();
  if (state) carrier.tracestate = state;
  return carrier;
}

/**
 * The context a server span starts in when the peer sent its client
 * span's trace context: extracted by the registered propagator, or parsed
 * here if it finds none; the current context if neither is valid.
 */
export function parentOf(carrier: Readonly<Record<string, string>>): Context {
  const current = context.active();
  const extracted = propagation.extract(current, carrier);
  if (trace.getSpanContext(extracted)?.isRemote) return extracted;
  const match = TRACEPARENT.exec(carrier.traceparent ?? "");
  // Version ff is invalid; version 00 has nothing after the flags.
  if (match === null || match[1] === "ff" || (match[1] === "00" && match[5])) {
    return current;
  }
  const state = carrier.tracestate;
  const remote = {
    traceId: match[2],
    spanId: match[3],
    traceFlags: parseInt(match[4], 16),
    isRemote: true,
    traceState: state === undefined ? undefined : createTraceState(state),
  };
  if (!isSpanContextValid(remote)) return current;
  return trace.setSpanContext(current, remote);
}

/**
 * Adds the event `aiomas.connection.closed` to the spans of the calls a
 * connection had not answered when it closed: why (the error that failed
 * it, e.g. a `ProtocolError` naming the budget it broke) and the peer.
 */
export function closedEvent(
  open: Set<Span>,
  reason: unknown,
  peer: string,
): void {
  if (open.size === 0) return;
  // A failure is the cause of the `ConnectionClosedError`; a close has none.
  const cause = (reason as Error | undefined)?.cause;
  const why = cause ?? reason;
  const attributes: Attributes = {
    "aiomas.peer": peer,
    "exception.type": errorType(why),
    "exception.message": why instanceof Error ? why.message : String(why),
  };
  if (cause !== undefined) attributes["error.type"] = errorType(cause);
  for (const span of open) {
    span.addEvent("aiomas.connection.closed", attributes);
  }
}
