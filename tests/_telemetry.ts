// In-memory OpenTelemetry providers for the telemetry tests (dev-only SDK
// packages): what a call recorded, without timers or exporters.
import assert from "node:assert/strict";
import {
  context,
  metrics,
  type SpanKind,
  trace,
} from "npm:@opentelemetry/api@^1.9.0";
import { AsyncLocalStorageContextManager } from "npm:@opentelemetry/context-async-hooks@^2.12.1";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "npm:@opentelemetry/sdk-trace-base@^2.12.1";
import {
  type DataPoint,
  MeterProvider,
  MetricReader,
} from "npm:@opentelemetry/sdk-metrics@^2.12.1";
import type { RpcTelemetryOptions } from "../rpc/mod.ts";

/** A reader that exports only when asked: no timers. */
export class ManualReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** In-memory tracer and meter providers and what they recorded. */
export class Recorder implements AsyncDisposable {
  readonly exporter = new InMemorySpanExporter();
  readonly tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(this.exporter)],
  });
  readonly reader = new ManualReader();
  readonly meterProvider = new MeterProvider({ readers: [this.reader] });

  get options(): RpcTelemetryOptions {
    return {
      tracerProvider: this.tracerProvider,
      meterProvider: this.meterProvider,
    };
  }

  async spans(): Promise<ReadableSpan[]> {
    await this.tracerProvider.forceFlush();
    return this.exporter.getFinishedSpans();
  }

  /** The finished spans named `aiomas/<method>` of one kind. */
  async named(method: string, kind: SpanKind): Promise<ReadableSpan[]> {
    return (await this.spans()).filter((span) =>
      span.name === `aiomas/${method}` && span.kind === kind
    );
  }

  /** The data points of the metric `name`, from a collection now. */
  async points(name: string): Promise<DataPoint<unknown>[]> {
    const { resourceMetrics, errors } = await this.reader.collect();
    assert.deepEqual(errors, []);
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (metric.descriptor.name === name) return metric.dataPoints;
      }
    }
    return [];
  }

  /** Registers these providers as the global ones until disposed. */
  registerGlobally(): Disposable {
    trace.setGlobalTracerProvider(this.tracerProvider);
    metrics.setGlobalMeterProvider(this.meterProvider);
    return {
      [Symbol.dispose]: () => {
        trace.disable();
        metrics.disable();
      },
    };
  }

  /** Asserts that no span ended and no call was counted. */
  async assertNothingRecorded(): Promise<void> {
    assert.deepEqual(await this.spans(), []);
    assert.deepEqual(await this.points("aiomas.rpc.client.calls.started"), []);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.tracerProvider.shutdown();
    await this.meterProvider.shutdown();
  }
}

/** Registers a context manager, as Deno's `OTEL_DENO=true` does, until disposed. */
export function contextManager(): Disposable {
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  return { [Symbol.dispose]: () => context.disable() };
}
