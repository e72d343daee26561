import {
  type Attributes,
  type Counter,
  createNoopMeter,
  type Histogram,
  type Meter,
  type MeterProvider,
  type ObservableResult,
} from "npm:@opentelemetry/api@^1.9.0";

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
 * provider collects, so a call costs one histogram record per side.
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
        result.observe(open, { ...system, "aiomas.codec": codec });
      }
    });
  }

  /**
   * Counts a connection open until `connection.closed` settles, then closed
   * with its reason.
   */
  connectionOpened(
    connection: { readonly closed?: Promise<void> },
    codec: string,
  ): void {
    const open = this.open;
    open.set(codec, (open.get(codec) ?? 0) + 1);
    const closed = (reason: string): void => {
      open.set(codec, open.get(codec)! - 1);
      this.connectionsClosed.add(1, {
        "rpc.system": "aiomas",
        "aiomas.codec": codec,
        "aiomas.close_reason": reason,
      });
    };
    connection.closed!.then(
      () => closed("closed"),
      (error) => closed(errorType(error)),
    );
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
