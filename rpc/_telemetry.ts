import {
  type Attributes,
  context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  trace,
  type Tracer,
  type TracerProvider,
} from "npm:@opentelemetry/api@^1.9.0";
import type { ChannelStats, SendOptions } from "../channel/channel.ts";
import {
  errorType,
  type Instruments,
  instrumentsFrom,
  type MethodCounts,
  OTHER_METHOD,
  telemetryFailed,
} from "./_telemetry_metrics.ts";
import type { RpcTelemetryOptions } from "./telemetry_options.ts";
import { closedEvent, parentOf, traceContextOf } from "./_telemetry_context.ts";
import {
  peerAttributes,
  setFailed,
  tracerFrom,
  tracerOf,
} from "./_telemetry_spans.ts";

export { OTHER_METHOD };

/**
 * What telemetry needs of a connection: a `Channel`, or for calls that
 * take no connection (between agents of one container) just the names.
 */
export interface CallPath {
  /** The peer as `Channel.peer` names it. */
  readonly peer: string;
  readonly codec: { readonly name: string };
  /** Counted as an open connection until it settles, if given. */
  readonly closed?: Promise<void>;
  /** The connection's counters (bytes, requests held), if it has them. */
  readonly stats?: ChannelStats;
  /** Aborts, with a `ConnectionClosedError`, when the connection closes. */
  readonly signal?: AbortSignal;
  send?(content: unknown, options?: SendOptions): Promise<unknown>;
}

/** A call sent or received, until it is answered. */
export interface TracedCall {
  method: string;
  span: Span | undefined;
  start: number;
  /** Its method's counts, if metrics are recorded. */
  counts: MethodCounts | undefined;
}

/**
 * What one RpcClient records: spans through a tracer that records and
 * metrics through a meter that does; made only when one of them does, so
 * a connection without telemetry pays one `undefined` check per call.
 */
export class ConnectionTelemetry {
  #channel: CallPath;
  #tracer: Tracer | undefined;
  #instruments: Instruments | undefined;
  #clientAttributes: Attributes;
  #serverAttributes: Attributes;
  #codec: string;
  #simTime: (() => number | undefined) | undefined;
  #callAttributes: RpcTelemetryOptions["callAttributes"];
  /** The spans of calls not yet answered, if spans are recorded. */
  #open: Set<Span> | undefined;

  constructor(
    channel: CallPath,
    tracer: Tracer | undefined,
    instruments: Instruments | undefined,
    options: RpcTelemetryOptions,
  ) {
    this.#channel = channel;
    this.#tracer = tracer;
    this.#instruments = instruments;
    this.#simTime = options.simTime;
    this.#callAttributes = options.callAttributes;
    this.#codec = channel.codec.name;
    const common = { "rpc.system": "aiomas", "aiomas.codec": this.#codec };
    const attributes = options.attributes as Attributes | undefined;
    this.#clientAttributes = {
      ...common,
      ...peerAttributes(channel.peer, true),
      ...attributes,
    };
    this.#serverAttributes = {
      ...common,
      ...peerAttributes(channel.peer, false),
      ...attributes,
    };
    if (instruments !== undefined && channel.closed !== undefined) {
      instruments.connectionOpened(channel, this.#codec);
    }
    const signal = channel.signal;
    if (tracer !== undefined && signal !== undefined && !signal.aborted) {
      const open = this.#open = new Set();
      // Aborted when the channel closes, before its pending calls settle.
      signal.addEventListener("abort", () => {
        try {
          closedEvent(open, signal.reason, channel.peer);
        } catch (error) {
          telemetryFailed(error);
        }
      }, { once: true });
    }
  }

  /** Sends a call on the channel inside a client span. */
  send(
    path: string,
    content: unknown,
    options: SendOptions | undefined,
  ): Promise<unknown> {
    return this.#track(
      path,
      (span) => {
        const traceContext = span === undefined
          ? undefined
          : guarded(traceContextOf, span);
        return this.#channel.send!(
          content,
          traceContext === undefined ? options : { ...options, traceContext },
        );
      },
      false,
    );
  }

  /**
   * Makes a call without a channel (`localTelemetry`): `run` runs with a
   * client span active (a server span it starts is its child), which ends
   * when its reply settles.
   */
  track<T>(method: string, run: () => Promise<T>): Promise<T> {
    return this.#track(method, run, true);
  }

  #track<T>(
    method: string,
    run: (span: Span | undefined) => Promise<T>,
    activate: boolean,
  ): Promise<T> {
    const call = this.#start(method, true, undefined);
    let reply: Promise<T>;
    try {
      reply = activate
        ? this.within(call, run, undefined, undefined)
        : run(call.span);
    } catch (error) {
      reply = Promise.reject(error);
    }
    return reply.then(
      (value) => {
        this.#finish(call, true, undefined);
        return value;
      },
      (error) => {
        this.#finish(call, true, error);
        throw error;
      },
    );
  }

  /**
   * Runs `fn` in the root context: a connection serves its calls in the
   * context it was made in, and one made inside a handler must not make
   * every later server span a child of that handler's.
   */
  inRoot<R>(fn: () => R): R {
    return context.with(ROOT_CONTEXT, fn);
  }

  /**
   * Starts the server side of a call; `method` is `OTHER_METHOD` if
   * unknown. Its span is the child of the peer's client span if the peer
   * sent its `traceContext` (`Request.traceContext`, over NATS).
   */
  serve(
    method: string,
    traceContext?: Readonly<Record<string, string>>,
  ): TracedCall {
    return this.#start(method, false, traceContext);
  }

  /** Runs `fn` with the call's span active, so calls it makes are children. */
  within<A extends unknown[], R>(
    call: TracedCall,
    fn: (...args: A) => R,
    thisArg: unknown,
    ...args: A
  ): R {
    if (call.span === undefined) return Reflect.apply(fn, thisArg, args);
    const active = trace.setSpan(context.active(), call.span);
    return context.with(active, fn, thisArg, ...args);
  }

  /** Ends the server side of a call: answered, or failed with `error`. */
  served(call: TracedCall, error?: unknown): void {
    this.#finish(call, false, error);
  }

  #start(
    method: string,
    client: boolean,
    traceContext: Readonly<Record<string, string>> | undefined,
  ): TracedCall {
    const instruments = this.#instruments;
    let counts: MethodCounts | undefined;
    if (instruments !== undefined) {
      if (client) {
        counts = instruments.start(instruments.client, method);
        instruments.clientPending++;
      } else {
        counts = instruments.start(instruments.server, method);
        instruments.serverPending++;
      }
    }
    const span = this.#tracer === undefined
      ? undefined
      : guarded(() => this.#startSpan(method, client, traceContext));
    if (span !== undefined) this.#open?.add(span);
    return { method, span, start: performance.now(), counts };
  }

  #startSpan(
    method: string,
    client: boolean,
    traceContext: Readonly<Record<string, string>> | undefined,
  ): Span {
    const attributes: Attributes = {
      ...(client ? this.#clientAttributes : this.#serverAttributes),
      "rpc.method": method,
    };
    const simTime = this.#simTime?.();
    if (simTime !== undefined) attributes["aiomas.sim_time"] = simTime;
    const extra = this.#callAttributes?.(method, client ? "client" : "server");
    if (extra !== undefined) Object.assign(attributes, extra);
    return this.#tracer!.startSpan(
      `aiomas/${method}`,
      { kind: client ? SpanKind.CLIENT : SpanKind.SERVER, attributes },
      traceContext === undefined ? context.active() : parentOf(traceContext),
    );
  }

  #finish(
    call: TracedCall,
    client: boolean,
    error: unknown,
  ): void {
    const failed = error !== undefined;
    const span = call.span;
    if (span !== undefined) {
      this.#open?.delete(span);
      // Ended even if marking it failed threw.
      if (failed) guarded(setFailed, span, error);
      guarded(endSpan, span);
    }
    const instruments = this.#instruments;
    const counts = call.counts;
    if (instruments === undefined || counts === undefined) return;
    const attributes = failed
      ? {
        // The method as counted (`_OTHER` beyond the methods counted apart).
        ...counts.method,
        "aiomas.outcome": "error",
        "error.type": errorType(error),
      }
      : counts.ok;
    const elapsed = performance.now() - call.start;
    if (client) instruments.clientPending--;
    else instruments.serverPending--;
    try {
      (client ? instruments.clientDuration : instruments.serverDuration)
        .record(elapsed, attributes);
    } catch (thrown) {
      telemetryFailed(thrown);
    }
  }
}

/**
 * The telemetry of a new connection, or undefined when nothing would be
 * recorded (no provider registered, or `false`): decided once, here, so
 * that a connection without it stays on the plain path.
 */
export function connectionTelemetry(
  channel: CallPath,
  options: RpcTelemetryOptions | false | undefined,
): ConnectionTelemetry | undefined {
  if (options === false) return undefined;
  const settings = options ?? {};
  // A provider that throws: the connection goes on without it (the other
  // one still records).
  const tracer = guarded(tracerFrom, settings);
  const found = guarded(instrumentsFrom, settings);
  if (tracer === undefined && found === undefined) return undefined;
  return guarded(
    (): ConnectionTelemetry =>
      new ConnectionTelemetry(channel, tracer, found, settings),
  );
}

/**
 * Runs `connect`, which establishes a connection to `peer`, inside a span
 * `aiomas.connect` (kind `INTERNAL`: the peer is not called) with the peer
 * attributes of a client span, the connection's `attributes` and
 * `aiomas.sim_time`; failed, it has status `ERROR` and `error.type`. It is
 * a child of the current context (the call that needed the connection).
 * When nothing would be recorded, just runs `connect`.
 */
export function traceConnect<T>(
  peer: string,
  options: RpcTelemetryOptions | false | undefined,
  connect: () => Promise<T>,
): Promise<T> {
  if (options === false) return connect();
  let span: Span;
  try {
    const tracer = tracerOf(
      (options?.tracerProvider as TracerProvider | undefined) ??
        trace.getTracerProvider(),
    );
    if (tracer === undefined) return connect();
    const attributes: Attributes = {
      "rpc.system": "aiomas",
      // A container's address ends with a slash; a connection's peer does not.
      ...peerAttributes(peer.endsWith("/") ? peer.slice(0, -1) : peer, true),
      ...options?.attributes as Attributes | undefined,
    };
    const simTime = options?.simTime?.();
    if (simTime !== undefined) attributes["aiomas.sim_time"] = simTime;
    span = tracer.startSpan("aiomas.connect", {
      kind: SpanKind.INTERNAL,
      attributes,
    }, context.active());
  } catch (error) {
    // Telemetry must not stop a connection: it is made without a span.
    telemetryFailed(error);
    return connect();
  }
  let connecting: Promise<T>;
  try {
    connecting = connect();
  } catch (error) {
    connecting = Promise.reject(error);
  }
  return connecting.then(
    (connection) => {
      // The connection is made: a span that fails to end must not lose it.
      guarded(endSpan, span);
      return connection;
    },
    (error) => {
      guarded(setFailed, span, error);
      guarded(endSpan, span);
      throw error;
    },
  );
}

/**
 * The telemetry of calls that take no connection, e.g. between agents of
 * one container (`peer`: the container's address): `track` makes their
 * client spans, `serve`/`within`/`served` their server spans. Undefined
 * when nothing would be recorded.
 */
export function localTelemetry(
  peer: string,
  codec: string,
  options: RpcTelemetryOptions | false | undefined,
): ConnectionTelemetry | undefined {
  return connectionTelemetry({ peer, codec: { name: codec } }, options);
}

/** `fn(...args)`, or undefined if it throws (reported, never thrown). */
function guarded<A extends unknown[], R>(
  fn: (...args: A) => R,
  ...args: A
): R | undefined {
  try {
    return fn(...args);
  } catch (error) {
    telemetryFailed(error);
    return undefined;
  }
}

function endSpan(span: Span): void {
  span.end();
}
