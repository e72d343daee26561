// Prints the spans of one simulation step as a tree: an agent in container
// A calls an agent in container B (over TCP) and one in its own container,
// under an ExternalClock. For docs/observability.md:
//
//   deno run --allow-net --allow-env tests/agent/sample_trace.ts
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

class Counter extends Agent {
  count = 0;

  @expose
  increment(by: number): number {
    return this.count += by;
  }
}

class Logger extends Agent {
  lines: string[] = [];

  @expose
  log(line: string): void {
    this.lines.push(`[${this.container.clock.time()}] ${line}`);
  }
}

class Scheduler extends Agent {
  @expose
  async step(counter: string, logger: string): Promise<number> {
    const remote = await this.container.connect<Counter>(counter);
    const count = await remote.increment(1);
    const local = await this.container.connect<Logger>(logger);
    await local.log(`count is ${count}`);
    return count;
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
const telemetry = { tracerProvider };
{
  await using a = await Container.create("127.0.0.1:0", { clock, telemetry });
  await using b = await Container.create("127.0.0.1:0", { clock, telemetry });
  const scheduler = new Scheduler(a);
  const logger = new Logger(a);
  const counter = new Counter(b);
  const proxy = await a.connect<Scheduler>(scheduler.addr);
  clock.setTime(5);
  await proxy.step(counter.addr, logger.addr);
}
await tracerProvider.forceFlush();
printSpanTree(exporter.getFinishedSpans());
await tracerProvider.shutdown();
context.disable();
