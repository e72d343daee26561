import {
  type Attributes,
  context,
  type Counter,
  createNoopMeter,
  type Histogram,
  type Meter,
  type MeterProvider,
  metrics,
  type ObservableResult,
  ProxyTracerProvider,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
  type TracerProvider,
} from "npm:@opentelemetry/api@^1.9.0";
import type { Channel, SendOptions } from "../channel/channel.ts";
import { RemoteError } from "../errors.ts";
import type { RpcTelemetryOptions } from "./telemetry_options.ts";

/** The instrumentation scope of every tracer and meter of the library. */
const SCOPE = "@aiomas/aiomas";

/** `rpc.method` of a call to a path the service does not have. */
export const OTHER_METHOD = "_OTHER";

/** What one side (client or server) of a method has done, for metrics. */
interface MethodCounts {
  /** Calls started: the observable counter reads it. */
  started: number;
  /** The attributes of its metrics when the call went well (reused). */
  ok: Attributes;
  /** The attributes of its `aiomas.rpc.*.calls.started` (reused). */
  method: Attributes;
}

/**
 * The instruments of one meter provider, shared by its connections. Only
 * the duration histograms and the rare connection closes are recorded per
 * event; what can be counted in a plain number (calls started, pending,
 * connections open) is, and observable instruments read it when the
 * provider collects, so a call costs one histogram record per side.
 */
class Instruments {
  readonly clientDuration: Histogram;
  readonly serverDuration: Histogram;
  readonly connectionsClosed: Counter;
  readonly client = new Map<string, MethodCounts>();
  readonly server = new Map<string, MethodCounts>();
  clientPending = 0;
  serverPending = 0;
  /** Open connections by codec. */
  readonly open = new Map<string, number>();

  constructor(meter: Meter) {
    this.clientDuration = meter.createHistogram("rpc.client.duration", {
      unit: "ms",
      description:
        "Duration of outgoing aiomas calls until the reply; its count is the calls finished, by method and outcome",
    });
    this.serverDuration = meter.createHistogram("rpc.server.duration", {
      unit: "ms",
      description:
        "Duration of incoming aiomas calls until answered; its count is the calls finished, by method and outcome",
    });
    this.connectionsClosed = meter.createCounter(
      "aiomas.rpc.connections.closed",
      {
        unit: "{connection}",
        description: "RPC connections closed, by reason",
      },
    );
    const system = { "rpc.system": "aiomas" };
    const started =
      (side: Map<string, MethodCounts>) => (result: ObservableResult) => {
        for (const counts of side.values()) {
          result.observe(counts.started, counts.method);
        }
      };
    const call = { unit: "{call}" };
    meter.createObservableCounter("aiomas.rpc.client.calls.started", {
      ...call,
      description: "Calls sent to a peer, by method",
    }).addCallback(started(this.client));
    meter.createObservableCounter("aiomas.rpc.server.calls.started", {
      ...call,
      description: "Calls received from a peer, by method",
    }).addCallback(started(this.server));
    meter.createObservableUpDownCounter("aiomas.rpc.client.calls.pending", {
      ...call,
      description: "Calls sent and not yet answered",
    }).addCallback((result) => result.observe(this.clientPending, system));
    meter.createObservableUpDownCounter("aiomas.rpc.server.calls.pending", {
      ...call,
      description: "Calls received and not yet answered",
    }).addCallback((result) => result.observe(this.serverPending, system));
    meter.createObservableUpDownCounter("aiomas.rpc.connections.open", {
      unit: "{connection}",
      description: "Open RPC connections, by codec",
    }).addCallback((result) => {
      for (const [codec, open] of this.open) {
        result.observe(open, { ...system, "aiomas.codec": codec });
      }
    });
  }

  /** Counts a call started and returns its method's counts. */
  start(side: Map<string, MethodCounts>, method: string): MethodCounts {
    let counts = side.get(method);
    if (counts === undefined) {
      const attributes = { "rpc.system": "aiomas", "rpc.method": method };
      counts = {
        started: 0,
        method: attributes,
        ok: { ...attributes, "aiomas.outcome": "ok" },
      };
      side.set(method, counts);
    }
    counts.started++;
    return counts;
  }
}

const instrumentsOf = new WeakMap<MeterProvider, Instruments>();

function instruments(provider: MeterProvider): Instruments | undefined {
  let found = instrumentsOf.get(provider);
  if (found !== undefined) return found;
  const meter = provider.getMeter(SCOPE);
  // The API's no-op meter: nothing would be recorded.
  if (meter === createNoopMeter()) return undefined;
  found = new Instruments(meter);
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
  #channel: Channel;
  #tracer: Tracer | undefined;
  #instruments: Instruments | undefined;
  #clientAttributes: Attributes;
  #serverAttributes: Attributes;
  #codec: string;
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
    if (instruments !== undefined) {
      const open = instruments.open;
      open.set(this.#codec, (open.get(this.#codec) ?? 0) + 1);
      channel.closed.then(
        () => this.#connectionClosed("closed"),
        (error) => this.#connectionClosed(errorType(error)),
      );
    }
  }

  #connectionClosed(reason: string): void {
    const instruments = this.#instruments!;
    instruments.open.set(this.#codec, instruments.open.get(this.#codec)! - 1);
    instruments.connectionsClosed.add(1, {
      "rpc.system": "aiomas",
      "aiomas.codec": this.#codec,
      "aiomas.close_reason": reason,
    });
  }

  /** Sends a call on the channel inside a client span. */
  send(
    path: string,
    content: unknown,
    options: SendOptions | undefined,
  ): Promise<unknown> {
    const call = this.#start(path, true);
    return this.#channel.send(content, options).then(
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

  /** Starts the server side of a call; `method` is `OTHER_METHOD` if unknown. */
  serve(method: string): TracedCall {
    return this.#start(method, false);
  }

  /** Runs `fn` with the call's span active, so calls it makes are children. */
  within<A extends unknown[], R>(
    call: TracedCall,
    fn: (...args: A) => R,
    thisArg: unknown,
    ...args: A
  ): R {
    if (call.span === undefined) return fn.apply(thisArg, args);
    const active = trace.setSpan(context.active(), call.span);
    return context.with(active, fn, thisArg, ...args);
  }

  /** Ends the server side of a call: answered, or failed with `error`. */
  served(call: TracedCall, error?: unknown): void {
    this.#finish(call, false, error);
  }

  #start(method: string, client: boolean): TracedCall {
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
    const tracer = this.#tracer;
    let span: Span | undefined;
    if (tracer !== undefined) {
      const attributes: Attributes = {
        ...(client ? this.#clientAttributes : this.#serverAttributes),
        "rpc.method": method,
      };
      const simTime = this.#simTime?.();
      if (simTime !== undefined) attributes["aiomas.sim_time"] = simTime;
      const extra = this.#callAttributes?.(
        method,
        client ? "client" : "server",
      );
      if (extra !== undefined) Object.assign(attributes, extra);
      span = tracer.startSpan(`aiomas/${method}`, {
        kind: client ? SpanKind.CLIENT : SpanKind.SERVER,
        attributes,
      }, context.active());
    }
    return { method, span, start: performance.now(), counts };
  }

  #finish(
    call: TracedCall,
    client: boolean,
    error: unknown,
  ): void {
    const failed = error !== undefined;
    const span = call.span;
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
    const counts = call.counts;
    if (instruments === undefined || counts === undefined) return;
    const attributes = failed
      ? {
        "rpc.system": "aiomas",
        "rpc.method": call.method,
        "aiomas.outcome": "error",
        "error.type": errorType(error),
      }
      : counts.ok;
    const elapsed = performance.now() - call.start;
    if (client) {
      instruments.clientPending--;
      instruments.clientDuration.record(elapsed, attributes);
    } else {
      instruments.serverPending--;
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
