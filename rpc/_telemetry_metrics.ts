import {
  type Attributes,
  type Counter,
  createNoopMeter,
  type Histogram,
  type Meter,
  type MeterProvider,
  metrics,
  type ObservableResult,
} from "npm:@opentelemetry/api@^1.9.0";
import type { ChannelStats } from "../channel/_channel_options.ts";
import type { RpcTelemetryOptions } from "./telemetry_options.ts";
import { budgetInstruments } from "./_telemetry_budgets.ts";

/**
 * `rpc.method` of a call to a path the service does not have, or one
 * beyond what is counted apart (see `Instruments.start`).
 */
export const OTHER_METHOD = "_OTHER";

/** The instrumentation scope of every tracer and meter of the library. */
export const SCOPE = "@aiomas/aiomas";

/** Bucket bounds of the duration histograms, in milliseconds. */
const DURATION_BUCKETS = [
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  25,
  50,
  100,
  250,
  500,
  1000,
  2500,
  5000,
  10000,
];

/** An open connection whose counters the observable instruments read. */
interface Counted {
  readonly connection: { readonly stats: ChannelStats };
  readonly codec: string;
}

/** What a codec's connections have done, summed: the bytes metrics' values. */
interface CodecTotals {
  bytesReceived: number;
  bytesSent: number;
  requestsQueued: number;
  requestsUnanswered: number;
}

function noTotals(): CodecTotals {
  return {
    bytesReceived: 0,
    bytesSent: 0,
    requestsQueued: 0,
    requestsUnanswered: 0,
  };
}

/** What one side (client or server) of a method has done, for metrics. */
export interface MethodCounts {
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
 * provider collects, so a call costs one histogram record per side. The
 * bytes and requests held are read from each open connection's
 * `Channel.stats` then too, and the process-wide budgets from
 * `partialFrameBudget()` and `unansweredBudget()`.
 */
export class Instruments {
  readonly clientDuration: Histogram;
  readonly serverDuration: Histogram;
  readonly connectionsClosed: Counter;
  readonly client = new Map<string, MethodCounts>();
  readonly server = new Map<string, MethodCounts>();
  clientPending = 0;
  serverPending = 0;
  /** Open connections by codec. */
  readonly open = new Map<string, number>();
  /** Open connections with counters: removed when they close. */
  readonly counted = new Set<Counted>();
  /** What the closed connections did, by codec. */
  readonly closedTotals = new Map<string, CodecTotals>();
  /** The attributes of the metrics by codec (reused). */
  readonly #byCodec = new Map<string, Attributes>();

  constructor(meter: Meter) {
    // Calls take microseconds to seconds: the default buckets start at 5 ms.
    const advice = { explicitBucketBoundaries: DURATION_BUCKETS };
    this.clientDuration = meter.createHistogram("rpc.client.duration", {
      unit: "ms",
      advice,
      description:
        "Duration of outgoing aiomas calls until the reply; its count is the calls finished, by method and outcome",
    });
    this.serverDuration = meter.createHistogram("rpc.server.duration", {
      unit: "ms",
      advice,
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
        result.observe(open, this.#codecAttributes(codec));
      }
    });
    this.#connectionCounters(meter);
    budgetInstruments(meter);
  }

  /** Bytes each way and requests held, by codec, read at collection. */
  #connectionCounters(meter: Meter): void {
    const bytes = { unit: "By" };
    const received = meter.createObservableCounter(
      "aiomas.rpc.bytes.received",
      {
        ...bytes,
        description:
          "Bytes read from RPC connections, frame headers included, by codec",
      },
    );
    const sent = meter.createObservableCounter("aiomas.rpc.bytes.sent", {
      ...bytes,
      description:
        "Bytes written to RPC connections, frame headers included, by codec",
    });
    const request = { unit: "{request}" };
    const queued = meter.createObservableUpDownCounter(
      "aiomas.rpc.requests.queued",
      {
        ...request,
        description:
          "Requests received from peers and not yet taken to be served, by codec",
      },
    );
    const unanswered = meter.createObservableUpDownCounter(
      "aiomas.rpc.requests.unanswered",
      {
        ...request,
        description:
          "Requests received from peers and not yet answered (queued ones too), by codec",
      },
    );
    meter.addBatchObservableCallback((result) => {
      for (const [codec, totals] of this.#totals()) {
        const attributes = this.#codecAttributes(codec);
        result.observe(received, totals.bytesReceived, attributes);
        result.observe(sent, totals.bytesSent, attributes);
        result.observe(queued, totals.requestsQueued, attributes);
        result.observe(unanswered, totals.requestsUnanswered, attributes);
      }
    }, [received, sent, queued, unanswered]);
  }

  /**
   * What the connections did, by codec: the open ones' counters now plus
   * the bytes of the closed ones.
   */
  #totals(): Map<string, CodecTotals> {
    const totals = new Map<string, CodecTotals>();
    for (const [codec, closed] of this.closedTotals) {
      totals.set(codec, { ...closed });
    }
    for (const { connection, codec } of this.counted) {
      let sum = totals.get(codec);
      if (sum === undefined) totals.set(codec, sum = noTotals());
      const stats = connection.stats;
      sum.bytesReceived += stats.bytesReceived;
      sum.bytesSent += stats.bytesSent;
      sum.requestsQueued += stats.requestsQueued;
      sum.requestsUnanswered += stats.requestsUnanswered;
    }
    return totals;
  }

  #codecAttributes(codec: string): Attributes {
    let attributes = this.#byCodec.get(codec);
    if (attributes === undefined) {
      attributes = { "rpc.system": "aiomas", "aiomas.codec": codec };
      this.#byCodec.set(codec, attributes);
    }
    return attributes;
  }

  /**
   * Counts a connection open until `connection.closed` settles, then closed
   * with its reason; reads its `stats` (if it has them) while it is open,
   * and keeps their final bytes when it closes.
   */
  connectionOpened(
    connection: {
      readonly closed?: Promise<void>;
      readonly stats?: ChannelStats;
    },
    codec: string,
  ): void {
    const open = this.open;
    open.set(codec, (open.get(codec) ?? 0) + 1);
    const counted: Counted | undefined = connection.stats === undefined
      ? undefined
      : { connection: connection as Counted["connection"], codec };
    if (counted !== undefined) this.counted.add(counted);
    const closed = (reason: string): void => {
      open.set(codec, open.get(codec)! - 1);
      if (counted !== undefined) {
        this.counted.delete(counted);
        const stats = connection.stats!;
        let kept = this.closedTotals.get(codec);
        if (kept === undefined) this.closedTotals.set(codec, kept = noTotals());
        kept.bytesReceived += stats.bytesReceived;
        kept.bytesSent += stats.bytesSent;
      }
      try {
        this.connectionsClosed.add(1, {
          "rpc.system": "aiomas",
          "aiomas.codec": codec,
          "aiomas.close_reason": reason,
        });
      } catch (error) {
        telemetryFailed(error);
      }
    };
    connection.closed!.then(
      () => closed("closed"),
      (error) => closed(errorType(error)),
    );
  }

  /**
   * Counts a call started and returns its method's counts: those of
   * `_OTHER` for a method name longer than {@linkcode MAX_METHOD_NAME}, or
   * a new one once {@linkcode MAX_METHODS} are counted. A peer's
   * references make paths of its choosing (and agents' paths grow with
   * their ids): each would be kept, by this map and the SDK, for good.
   */
  start(side: Map<string, MethodCounts>, method: string): MethodCounts {
    let counts = side.get(method);
    if (
      counts === undefined &&
      (method.length > MAX_METHOD_NAME || side.size >= MAX_METHODS)
    ) {
      method = OTHER_METHOD;
      counts = side.get(method);
    }
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

/** The most methods whose calls are counted apart, per side and provider. */
const MAX_METHODS = 1024;
/** The longest method name counted as itself. */
const MAX_METHOD_NAME = 256;

/** `error.type`: the error's class name (low cardinality). */
export function errorType(error: unknown): string {
  return error instanceof Error ? error.name : "_OTHER";
}

const instrumentsOf = new WeakMap<MeterProvider, Instruments>();

export function instruments(provider: MeterProvider): Instruments | undefined {
  let found = instrumentsOf.get(provider);
  if (found !== undefined) return found;
  const meter = provider.getMeter(SCOPE);
  // The API's no-op meter: nothing would be recorded.
  if (meter === createNoopMeter()) return undefined;
  found = new Instruments(meter);
  instrumentsOf.set(provider, found);
  return found;
}

let telemetryFailedBefore = false;

/**
 * Reports that a tracer, meter, propagator or telemetry option threw:
 * telemetry must never fail or stop a call. Only the first failure is
 * logged (a broken exporter would log at every call).
 */
export function telemetryFailed(error: unknown): void {
  if (telemetryFailedBefore) return;
  telemetryFailedBefore = true;
  console.error(
    "aiomas: telemetry threw (a provider or a telemetry option); calls go on without it, and further failures are not logged:",
    error,
  );
}

/** The instruments of `settings`' meter provider, or the global one's. */
export function instrumentsFrom(
  settings: RpcTelemetryOptions,
): Instruments | undefined {
  return instruments(
    (settings.meterProvider as MeterProvider | undefined) ??
      metrics.getMeterProvider(),
  );
}
