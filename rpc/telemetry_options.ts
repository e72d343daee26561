/**
 * Span attributes, as OpenTelemetry's `Attributes`: values are strings,
 * numbers, booleans or arrays of one of them.
 */
export type TelemetryAttributes = Readonly<
  Record<
    string,
    | string
    | number
    | boolean
    | undefined
    | ReadonlyArray<string | null | undefined>
    | ReadonlyArray<number | null | undefined>
    | ReadonlyArray<boolean | null | undefined>
  >
>;

/**
 * An OpenTelemetry `TracerProvider` of `npm:@opentelemetry/api` (e.g. the
 * SDK's `BasicTracerProvider`), typed here by the one method used.
 */
export interface TelemetryTracerProvider {
  /** Returns the tracer of an instrumentation scope. */
  getTracer(name: string, version?: string, options?: object): object;
}

/**
 * An OpenTelemetry `MeterProvider` of `npm:@opentelemetry/api` (e.g. the
 * SDK's `MeterProvider`), typed here by the one method used.
 */
export interface TelemetryMeterProvider {
  /** Returns the meter of an instrumentation scope. */
  getMeter(name: string, version?: string, options?: object): object;
}

/**
 * OpenTelemetry settings of an {@linkcode RpcClient} (its
 * `RpcClientOptions.telemetry`): where its spans and metrics go and what
 * they carry besides the RPC attributes. See `docs/observability.md` for
 * every span, metric and attribute.
 *
 * Whether a connection records anything is decided once, when its client
 * is made: with no provider registered (the API's defaults) it records
 * nothing and costs one check per call. Register providers before opening
 * connections (Deno does, at startup, under `OTEL_DENO=true`).
 *
 * @example
 * ```ts
 * import { Channel, createMemoryPair, RpcClient, ServiceDict } from "@aiomas/aiomas";
 * import assert from "node:assert/strict";
 *
 * const [a, b] = createMemoryPair();
 * await using server = new RpcClient(new Channel(b), {
 *   service: new ServiceDict({ add: (x: number, y: number) => x + y }),
 *   telemetry: { attributes: { "service.instance.id": "calc-1" } },
 * });
 * await using client = new RpcClient(new Channel(a), { telemetry: false });
 * assert.equal(await client.remote.add(1, 2), 3);
 * ```
 */
export interface RpcTelemetryOptions {
  /**
   * Where spans go.
   *
   * @default {the global one: `trace.getTracerProvider()` of `npm:@opentelemetry/api`}
   */
  tracerProvider?: TelemetryTracerProvider;
  /**
   * Where metrics go.
   *
   * @default {the global one: `metrics.getMeterProvider()` of `npm:@opentelemetry/api`}
   */
  meterProvider?: TelemetryMeterProvider;
  /**
   * Attributes added to every span of the connection, e.g. the container's
   * address.
   *
   * @default {none}
   */
  attributes?: TelemetryAttributes;
  /**
   * The simulation time now, called when a span starts; a number becomes
   * its `aiomas.sim_time` attribute (e.g. `() => clock.time()` of an
   * `ExternalClock`).
   *
   * @default {none: no `aiomas.sim_time`}
   */
  simTime?: () => number | undefined;
  /**
   * Attributes of one call's span from its `rpc.method` (the call path, or
   * `"_OTHER"` for a path the local service does not have) and its side,
   * e.g. the agent addresses of caller and callee. Called when the span
   * starts, only when spans are recorded.
   *
   * @default {none}
   */
  callAttributes?: (
    method: string,
    side: "client" | "server",
  ) => TelemetryAttributes | undefined;
}
