// Prints the spans of one simulation step as a tree, as
// tests/agent/sample_trace.ts does, but with the two containers on NATS:
// the trace context travels in the NATS headers, so container B's server
// spans are children of A's client spans, in one trace. Starts a
// nats-server on a free port (and stops it). For docs/observability.md:
//
//   deno run -A tests/nats/sample_trace.ts
import { context } from "npm:@opentelemetry/api@^1.9.0";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "npm:@opentelemetry/sdk-trace-base@^2.12.1";
import { AsyncLocalStorageContextManager } from "npm:@opentelemetry/context-async-hooks@^2.12.1";
import { Agent, Container, ExternalClock } from "../../agent/mod.ts";
import { expose } from "../../rpc/mod.ts";
import { printSpanTree } from "../_span_tree.ts";
import { NatsServer } from "./_server.ts";

class Counter extends Agent {
  count = 0;

  @expose
  increment(by: number): number {
    return this.count += by;
  }
}

class Scheduler extends Agent {
  @expose
  async step(counter: string): Promise<number> {
    const remote = await this.container.connect<Counter>(counter);
    return await remote.increment(1);
  }
}

// Deno registers one under OTEL_DENO=true: it carries the span of a
// handler to the calls it makes.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const exporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
const clock = new ExternalClock("2026-01-01T00:00:00Z");
{
  await using server = await NatsServer.start();
  const options = {
    clock,
    nats: { servers: server.url },
    telemetry: { tracerProvider },
  };
  await using a = await Container.create("nats://a", options);
  await using b = await Container.create("nats://b", options);
  const scheduler = new Scheduler(a);
  const counter = new Counter(b);
  const proxy = await a.connect<Scheduler>(scheduler.addr);
  clock.setTime(5);
  await proxy.step(counter.addr);
}
await tracerProvider.forceFlush();
printSpanTree(exporter.getFinishedSpans());
await tracerProvider.shutdown();
context.disable();
