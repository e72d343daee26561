// A container on NATS in a process of its own, recording spans in memory:
// `deno run -A _traced_container_process.ts <nats url> <name>`. Its agent 0
// answers `echo`. Prints "ready" once attached; when stdin ends, closes the
// container and prints its spans as one JSON line.
import { Agent, Container } from "../../agent/mod.ts";
import { expose } from "../../rpc/expose.ts";
import { Recorder } from "../_telemetry.ts";

class Callee extends Agent {
  @expose
  echo(value: unknown): unknown {
    return value;
  }
}

const [url, name] = Deno.args;
await using recorder = new Recorder();
{
  await using container = await Container.create(`nats://${name}`, {
    nats: { servers: url },
    telemetry: recorder.options,
  });
  new Callee(container);
  console.log("ready");
  for await (const _ of Deno.stdin.readable) {
    // Nothing is sent: the end of stdin is the signal.
  }
}
const spans = (await recorder.spans()).map((span) => ({
  name: span.name,
  kind: span.kind,
  traceId: span.spanContext().traceId,
  spanId: span.spanContext().spanId,
  parentSpanId: span.parentSpanContext?.spanId,
  parentIsRemote: span.parentSpanContext?.isRemote,
  container: span.attributes["aiomas.container"],
}));
console.log(JSON.stringify(spans));
