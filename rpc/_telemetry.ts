import {
  type Attributes,
  context,
  type Counter,
  createNoopMeter,
  type Histogram,
  type MeterProvider,
  metrics,
  ProxyTracerProvider,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
  type TracerProvider,
  type UpDownCounter,
} from "npm:@opentelemetry/api@^1.9.0";
import type { Channel, SendOptions } from "../channel/channel.ts";
import { RemoteError } from "../errors.ts";
import type { RpcTelemetryOptions } from "./telemetry_options.ts";

/** The instrumentation scope of every tracer and meter of the library. */
const SCOPE = "@aiomas/aiomas";

/** `rpc.method` of a call to a path the service does not have. */
export const OTHER_METHOD = "_OTHER";

/** The instruments of one meter provider, shared by its connections. */
interface Instruments {
  clientDuration: Histogram;
  serverDuration: Histogram;
  clientStarted: Counter;
  serverStarted: Counter;
  clientFinished: Counter;
  serverFinished: Counter;
  clientPending: UpDownCounter;
  serverPending: UpDownCounter;
  connectionsOpen: UpDownCounter;
  connectionsClosed: Counter;
}

const instrumentsOf = new WeakMap<MeterProvider, Instruments>();

function instruments(provider: MeterProvider): Instruments | undefined {
  let found = instrumentsOf.get(provider);
  if (found !== undefined) return found;
  const meter = provider.getMeter(SCOPE);
  // The API's no-op meter: nothing would be recorded.
  if (meter === createNoopMeter()) return undefined;
  const ms = { unit: "ms" };
  found = {
    clientDuration: meter.createHistogram("rpc.client.duration", {
      ...ms,
      description: "Duration of outgoing aiomas calls, until the reply",
    }),
    serverDuration: meter.createHistogram("rpc.server.duration", {
      ...ms,
      description: "Duration of incoming aiomas calls, until answered",
    }),
    clientStarted: meter.createCounter("aiomas.rpc.client.calls.started", {
      unit: "{call}",
      description: "Calls sent to a peer",
    }),
    serverStarted: meter.createCounter("aiomas.rpc.server.calls.started", {
      unit: "{call}",
      description: "Calls received from a peer",
    }),
    clientFinished: meter.createCounter("aiomas.rpc.client.calls.finished", {
      unit: "{call}",
      description: "Calls sent whose reply (or failure) arrived",
    }),
    serverFinished: meter.createCounter("aiomas.rpc.server.calls.finished", {
      unit: "{call}",
      description: "Calls received and answered",
    }),
    clientPending: meter.createUpDownCounter(
      "aiomas.rpc.client.calls.pending",
      { unit: "{call}", description: "Calls sent and not yet answered" },
    ),
    serverPending: meter.createUpDownCounter(
      "aiomas.rpc.server.calls.pending",
      { unit: "{call}", description: "Calls received and not yet answered" },
    ),
    connectionsOpen: meter.createUpDownCounter(
      "aiomas.rpc.connections.open",
      { unit: "{connection}", description: "Open RPC connections" },
    ),
    connectionsClosed: meter.createCounter("aiomas.rpc.connections.closed", {
      unit: "{connection}",
      description: "RPC connections closed, by reason",
    }),
  };
  instrumentsOf.set(provider, found);
  return found;
}

/** The tracer of a provider, or undefined if it would record nothing. */
function tracerOf(provider: TracerProvider): Tracer | undefined {
  // The global default before anything is registered: a proxy to nothing.
  if (
    provider instanceof ProxyTracerProvider &&
    provider.getDelegateTracer(SCOPE) === undefined
  ) {
    return undefined;
  }
  return provider.getTracer(SCOPE);
}

/** The attributes that say who the peer is, from `Channel.peer`. */
function peerAttributes(peer: string, client: boolean): Attributes {
  if (peer.startsWith("unix:")) {
    return {
      "network.transport": "unix",
      "network.peer.address": peer.slice(5),
      ...(client ? { "server.address": peer.slice(5) } : {}),
    };
  }
  const match = /^\[?([^\]]*)\]?:(\d+)$/.exec(peer);
  if (match === null) return { "network.peer.address": peer };
  const port = Number(match[2]);
  return {
    "network.peer.address": match[1],
    "network.peer.port": port,
    ...(client
      ? { "server.address": match[1], "server.port": port }
      : { "client.address": match[1], "client.port": port }),
  };
}

/** `error.type`: the error's class name (low cardinality). */
function errorType(error: unknown): string {
  return error instanceof Error ? error.name : "_OTHER";
}

/** A call received and being served. */
export interface ServerCall {
  span: Span | undefined;
  start: number;
  method: string;
}

/**
 * What one RpcClient records: spans through a tracer that records and
 * metrics through a meter that does; made only when one of them does, so
 * a connection without telemetry pays one `undefined` check per call.
 */
export class ConnectionTelemetry {
  #channel: Channel;
  #tracer: Tracer | undefined;
  #instruments: Instruments | undefined;
  #clientAttributes: Attributes;
  #serverAttributes: Attributes;
  #metricAttributes: Attributes;
  #simTime: (() => number | undefined) | undefined;
  #callAttributes: RpcTelemetryOptions["callAttributes"];

  constructor(
    channel: Channel,
    tracer: Tracer | undefined,
    instruments: Instruments | undefined,
    options: RpcTelemetryOptions,
  ) {
    this.#channel = channel;
    this.#tracer = tracer;
    this.#instruments = instruments;
    this.#simTime = options.simTime;
    this.#callAttributes = options.callAttributes;
    const common = {
      "rpc.system": "aiomas",
      "aiomas.codec": channel.codec.name,
    };
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
    this.#metricAttributes = common;
    if (instruments !== undefined) {
      instruments.connectionsOpen.add(1, common);
      channel.closed.then(
        () => this.#connectionClosed("closed"),
        (error) => this.#connectionClosed(errorType(error)),
      );
    }
  }

  #connectionClosed(reason: string): void {
    const instruments = this.#instruments!;
    instruments.connectionsOpen.add(-1, this.#metricAttributes);
    instruments.connectionsClosed.add(1, {
      ...this.#metricAttributes,
      "aiomas.close_reason": reason,
    });
  }

  /** Sends a call on the channel inside a client span. */
  send(
    path: string,
    content: unknown,
    options: SendOptions | undefined,
  ): Promise<unknown> {
    const span = this.#startSpan(path, SpanKind.CLIENT, this.#clientAttributes);
    const start = performance.now();
    const instruments = this.#instruments;
    if (instruments !== undefined) {
      const attributes = { ...this.#metricAttributes, "rpc.method": path };
      instruments.clientStarted.add(1, attributes);
      instruments.clientPending.add(1, this.#metricAttributes);
    }
    return this.#channel.send(content, options).then(
      (value) => {
        this.#finish(span, start, path, true, undefined);
        return value;
      },
      (error) => {
        this.#finish(span, start, path, true, error);
        throw error;
      },
    );
  }

  /** Starts the server side of a call; `method` is `OTHER_METHOD` if unknown. */
  serve(method: string): ServerCall {
    const span = this.#startSpan(
      method,
      SpanKind.SERVER,
      this.#serverAttributes,
    );
    const instruments = this.#instruments;
    if (instruments !== undefined) {
      const attributes = { ...this.#metricAttributes, "rpc.method": method };
      instruments.serverStarted.add(1, attributes);
      instruments.serverPending.add(1, this.#metricAttributes);
    }
    return { span, start: performance.now(), method };
  }

  /** Runs `fn` with the call's span active, so calls it makes are children. */
  within<A extends unknown[], R>(
    call: ServerCall,
    fn: (...args: A) => R,
    thisArg: unknown,
    ...args: A
  ): R {
    if (call.span === undefined) return fn.apply(thisArg, args);
    const active = trace.setSpan(context.active(), call.span);
    return context.with(active, fn, thisArg, ...args);
  }

  /** Ends the server side of a call: answered, or failed with `error`. */
  served(call: ServerCall, error?: unknown): void {
    this.#finish(call.span, call.start, call.method, false, error);
  }

  #startSpan(
    method: string,
    kind: SpanKind,
    base: Attributes,
  ): Span | undefined {
    const tracer = this.#tracer;
    if (tracer === undefined) return undefined;
    const attributes: Attributes = { ...base, "rpc.method": method };
    const simTime = this.#simTime?.();
    if (simTime !== undefined) attributes["aiomas.sim_time"] = simTime;
    const extra = this.#callAttributes?.(
      method,
      kind === SpanKind.CLIENT ? "client" : "server",
    );
    if (extra !== undefined) Object.assign(attributes, extra);
    return tracer.startSpan(
      `aiomas/${method}`,
      { kind, attributes },
      context.active(),
    );
  }

  #finish(
    span: Span | undefined,
    start: number,
    method: string,
    client: boolean,
    error: unknown,
  ): void {
    const failed = error !== undefined;
    if (span !== undefined) {
      if (failed) {
        span.setAttribute("error.type", errorType(error));
        if (error instanceof RemoteError) {
          span.setAttribute("aiomas.remote_error.type", error.remoteName);
        }
        if (error instanceof Error) span.recordException(error);
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: error instanceof Error ? error.message : String(error),
        });
      }
      span.end();
    }
    const instruments = this.#instruments;
    if (instruments === undefined) return;
    const attributes: Attributes = {
      ...this.#metricAttributes,
      "rpc.method": method,
      "aiomas.outcome": failed ? "error" : "ok",
    };
    if (failed) attributes["error.type"] = errorType(error);
    const elapsed = performance.now() - start;
    if (client) {
      instruments.clientPending.add(-1, this.#metricAttributes);
      instruments.clientFinished.add(1, attributes);
      instruments.clientDuration.record(elapsed, attributes);
    } else {
      instruments.serverPending.add(-1, this.#metricAttributes);
      instruments.serverFinished.add(1, attributes);
      instruments.serverDuration.record(elapsed, attributes);
    }
  }
}

/**
 * The telemetry of a new connection, or undefined when nothing would be
 * recorded (no provider registered, or `false`): decided once, here, so
 * that a connection without it stays on the plain path.
 */
export function connectionTelemetry(
  channel: Channel,
  options: RpcTelemetryOptions | false | undefined,
): ConnectionTelemetry | undefined {
  if (options === false) return undefined;
  const settings = options ?? {};
  // The providers are typed structurally in the public options.
  const tracer = tracerOf(
    (settings.tracerProvider as TracerProvider | undefined) ??
      trace.getTracerProvider(),
  );
  const found = instruments(
    (settings.meterProvider as MeterProvider | undefined) ??
      metrics.getMeterProvider(),
  );
  if (tracer === undefined && found === undefined) return undefined;
  return new ConnectionTelemetry(channel, tracer, found, settings);
}
