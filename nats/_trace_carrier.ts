import type { TraceContextCarrier } from "../channel/transport.ts";
import type { MsgHeaders } from "./_nats.ts";

// Trace context of calls between this library's peers travels in the NATS
// headers of the session's data messages, never in the aiomas bytes: one
// `Aiomas-Trace` value per request, `<id> <traceparent>[ <tracestate>]`,
// on the first data message that goes out after the call was sent (the
// one that holds its frame, or an earlier one). A peer without tracing,
// or an older version of this library, ignores the header.

/** The header of the session's data messages that carries trace context. */
export const TRACE_HEADER = "Aiomas-Trace";

/**
 * How many trace contexts a session holds each way: sent ones waiting for
 * a data message, received ones waiting for their request. Beyond it the
 * oldest are dropped (their calls' server spans become roots).
 */
export const MAX_TRACE_CONTEXTS = 4096;

/**
 * How many bytes of received contexts a session holds (each counted as its
 * two texts and {@linkcode CONTEXT_OVERHEAD}): a peer may send contexts
 * for requests it never sends, and a context waits only until the
 * request's frame is read, which comes in the same data message or soon
 * after. Beyond it the oldest are dropped.
 */
export const MAX_RECEIVED_TRACE_BYTES = 128 * 1024;

/**
 * The most header bytes of contexts one data message carries: what a
 * receiver keeps of them ({@linkcode MAX_RECEIVED_TRACE_BYTES}, which
 * counts each context about 50 bytes above its header value) must hold
 * all of them.
 */
export const MAX_TRACE_HEADER_BYTES = 64 * 1024;

/** What a held context costs besides its texts: its record and Map entry. */
const CONTEXT_OVERHEAD = 64;

/** The longest `tracestate` carried (W3C: 512 characters suffice). */
export const MAX_TRACESTATE = 512;

/** What one header value costs in the header block: `Aiomas-Trace: …\r\n`. */
const PER_VALUE = TRACE_HEADER.length + 4;
/** The header block around the values: `NATS/1.0\r\n` … `\r\n`. */
const BLOCK = 12;

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
/** Printable ASCII: a header value must not hold CR or LF. */
const TRACESTATE = /^[\x20-\x7e]*$/;
const VALUE =
  /^(\d{1,15}) ([0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2})(?: (.+))?$/;

/** The headers of a received message, as nats.js `MsgHdrs` has them. */
export interface ReceivedHeaders {
  values(key: string): string[];
}

/** The headers of a data message, and the bytes they take of it. */
export interface TraceHeaders {
  readonly headers: MsgHeaders;
  readonly size: number;
}

/**
 * The {@linkcode TraceContextCarrier} of a NATS session: contexts handed
 * over with `outgoing` wait for the next data message
 * ({@linkcode NatsTraceCarrier.take}); contexts read from received
 * headers ({@linkcode NatsTraceCarrier.received}) wait for `incoming`.
 * Both sides are capped at {@linkcode MAX_TRACE_CONTEXTS}, the received
 * ones at {@linkcode MAX_RECEIVED_TRACE_BYTES} too.
 */
export class NatsTraceCarrier implements TraceContextCarrier {
  #out: string[] = [];
  #head = 0;
  #in = new Map<number, Readonly<Record<string, string>>>();
  #inBytes = 0;

  /** Whether contexts wait to be sent: when not, messages go without headers. */
  get pending(): boolean {
    return this.#head < this.#out.length;
  }

  /** How many received contexts wait for their request. */
  get held(): number {
    return this.#in.size;
  }

  /** What the received contexts that wait cost, in bytes (see {@linkcode MAX_RECEIVED_TRACE_BYTES}). */
  get heldBytes(): number {
    return this.#inBytes;
  }

  outgoing(id: number, context: Readonly<Record<string, string>>): void {
    const traceparent = context.traceparent;
    if (typeof traceparent !== "string" || !TRACEPARENT.test(traceparent)) {
      return;
    }
    let value = `${id} ${traceparent}`;
    const state = context.tracestate?.trim();
    if (
      state !== undefined && state !== "" && state.length <= MAX_TRACESTATE &&
      TRACESTATE.test(state)
    ) {
      value += ` ${state}`;
    }
    if (this.#out.length - this.#head >= MAX_TRACE_CONTEXTS) this.#head++;
    this.#out.push(value);
    if (this.#head > 1024) {
      this.#out = this.#out.slice(this.#head);
      this.#head = 0;
    }
  }

  /**
   * The headers of the next data message: the waiting contexts that fit
   * in `room` bytes, oldest first (the rest wait for the next message).
   * Undefined if none fits, or if nats.js's `headers()` (`make`) could not
   * be loaded (then they are dropped).
   */
  headers(
    make: (() => MsgHeaders) | undefined,
    room: number,
  ): TraceHeaders | undefined {
    const out = this.#out;
    const headers = make?.();
    let size = BLOCK;
    let at = this.#head;
    for (; at < out.length; at++) {
      const next = size + PER_VALUE + out[at].length;
      if (next > room) {
        // One that fits no message (a tiny max_payload) is dropped.
        if (size === BLOCK) continue;
        break;
      }
      headers?.append(TRACE_HEADER, out[at]);
      size = next;
    }
    if (at === out.length) {
      out.length = 0;
      this.#head = 0;
    } else this.#head = at;
    return headers === undefined || size === BLOCK
      ? undefined
      : { headers, size };
  }

  /** Keeps the contexts of a received data message until their requests come. */
  received(headers: ReceivedHeaders): void {
    const values = headers.values(TRACE_HEADER);
    // More than can be held would only push each other out.
    const from = Math.max(0, values.length - MAX_TRACE_CONTEXTS);
    for (let i = from; i < values.length; i++) {
      const match = VALUE.exec(values[i]);
      if (match === null) continue;
      const state = match[3];
      const context: Record<string, string> = { traceparent: own(match[2]) };
      if (state !== undefined && state.length <= MAX_TRACESTATE) {
        context.tracestate = own(state);
      }
      const id = Number(match[1]);
      this.#take(id);
      const cost = costOf(context);
      while (
        this.#in.size >= MAX_TRACE_CONTEXTS ||
        (this.#in.size > 0 && this.#inBytes + cost > MAX_RECEIVED_TRACE_BYTES)
      ) {
        // The oldest: a Map iterates in insertion order.
        this.#take(this.#in.keys().next().value!);
      }
      this.#in.set(id, context);
      this.#inBytes += cost;
    }
  }

  incoming(id: number): Readonly<Record<string, string>> | undefined {
    return this.#take(id);
  }

  #take(id: number): Readonly<Record<string, string>> | undefined {
    const context = this.#in.get(id);
    if (context !== undefined) {
      this.#in.delete(id);
      this.#inBytes -= costOf(context);
    }
    return context;
  }
}

function costOf(context: Readonly<Record<string, string>>): number {
  return CONTEXT_OVERHEAD + context.traceparent.length +
    (context.tracestate?.length ?? 0);
}

/**
 * A copy of `text` that holds nothing else: a part of a header value is a
 * slice of the whole header block, which it would keep alive (a peer's
 * block may be megabytes).
 */
function own(text: string): string {
  return JSON.parse(JSON.stringify(text));
}
