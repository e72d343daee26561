// OpenTelemetry spans of agent calls: across containers (TCP) and between
// agents of one container, with the agent addresses, the container and the
// simulation time of an ExternalClock; recorded by in-memory providers
// (dev-only SDK packages) given in ContainerOptions.telemetry.
import assert from "node:assert/strict";
import { contextManager, Recorder } from "../_telemetry.ts";
import { SpanKind, SpanStatusCode, trace } from "npm:@opentelemetry/api@^1.9.0";
import type { ReadableSpan } from "npm:@opentelemetry/sdk-trace-base@^2.12.1";
import {} from "npm:@opentelemetry/sdk-metrics@^2.12.1";
import {
  Agent,
  Container,
  ExternalClock,
  withOptions,
} from "../../agent/mod.ts";
import { callContext, expose } from "../../rpc/mod.ts";

const LOCAL = { hostname: "127.0.0.1", port: 0 };

function valueError(message: string): Error {
  const error = new Error(message);
  error.name = "ValueError";
  return error;
}

/** What `Callee.keep` calls: a proxy of an agent with `echo`. */
interface Echoer {
  echo(value: number): number | Promise<number>;
}

class Callee extends Agent {
  /** Resolved by the test to let `hold` answer. */
  release = Promise.withResolvers<void>();
  holding = Promise.withResolvers<void>();
  /** A proxy of an agent elsewhere, kept by `keep`. */
  kept: Echoer | undefined;

  @expose
  echo(value: number): number {
    return value;
  }

  @expose
  fail(): never {
    throw valueError("no");
  }

  @expose
  async hold(): Promise<string> {
    this.holding.resolve();
    await this.release.promise;
    return "held";
  }

  /** Keeps `agent` and calls it. */
  @expose
  async keep(agent: Echoer): Promise<number> {
    this.kept = agent;
    return await agent.echo(1);
  }

  /** Whether its call context is there, and its signal not aborted. */
  @expose({ context: true })
  async context(): Promise<boolean> {
    await Promise.resolve();
    return !callContext().signal.aborted;
  }

  /** Calls the kept agent again. */
  @expose
  async callKept(): Promise<number> {
    return await this.kept!.echo(2);
  }
}

/** Calls other agents while serving a call. */
class Relay extends Agent {
  @expose
  async relay(url: string, value: number): Promise<number> {
    const callee = await this.container.connect<Callee>(url);
    return await callee.echo(value);
  }

  /** Hands itself to the agent at `url`, which calls it back. */
  @expose
  async handOver(url: string): Promise<number> {
    const callee = await this.container.connect<Callee>(url);
    return await callee.keep(this);
  }

  @expose
  echo(value: number): number {
    return value;
  }
}

function port(container: Container): number {
  return Number(/:(\d+)\/$/.exec(container.addr)![1]);
}

function one(spans: ReadableSpan[]): ReadableSpan {
  assert.equal(spans.length, 1, `one span, not ${spans.length}`);
  return spans[0];
}

Deno.test("a call to an agent in another container: one client and one server span", async () => {
  await using recorder = new Recorder();
  await using a = await Container.create(LOCAL, {
    telemetry: recorder.options,
  });
  await using b = await Container.create(LOCAL, {
    telemetry: recorder.options,
  });
  const callee = new Callee(b);
  const proxy = await a.connect<Callee>(callee.addr);
  assert.equal(await proxy.echo(7), 7);
  const method = `agents/${callee.aid}/echo`;
  const sent = one(await recorder.named(method, SpanKind.CLIENT));
  const served = one(await recorder.named(method, SpanKind.SERVER));
  for (const span of [sent, served]) {
    assert.equal(span.attributes["rpc.system"], "aiomas");
    assert.equal(span.attributes["rpc.method"], method);
    assert.equal(span.attributes["aiomas.codec"], "json");
    assert.equal(span.attributes["aiomas.agent.callee"], callee.addr);
    // Not called from an agent's handler: no caller.
    assert.equal(span.attributes["aiomas.agent.caller"], undefined);
    assert.equal(span.attributes["aiomas.sim_time"], undefined);
    assert.equal(span.status.code, SpanStatusCode.UNSET);
  }
  assert.equal(sent.attributes["aiomas.container"], a.addr);
  assert.equal(sent.attributes["server.address"], "127.0.0.1");
  assert.equal(sent.attributes["server.port"], port(b));
  assert.equal(served.attributes["aiomas.container"], b.addr);
  assert.equal(served.attributes["client.address"], "127.0.0.1");
  // Nothing is carried on the aiomas wire: the server span starts a trace.
  assert.equal(served.parentSpanContext, undefined);
  // connect asked B for the agent first.
  one(await recorder.named("validate_aid", SpanKind.CLIENT));
  one(await recorder.named("validate_aid", SpanKind.SERVER));
});

Deno.test("a call between agents of one container: a client span and a server span, its child", async () => {
  using _context = contextManager();
  await using recorder = new Recorder();
  await using a = await Container.create(LOCAL, {
    telemetry: recorder.options,
  });
  const callee = new Callee(a);
  const proxy = await a.connect<Callee>(callee.addr);
  assert.equal(await proxy.echo(3), 3);
  const spans = await recorder.spans();
  // No connection, so no validate_aid either.
  assert.equal(spans.length, 2);
  const method = `agents/${callee.aid}/echo`;
  const sent = one(await recorder.named(method, SpanKind.CLIENT));
  const served = one(await recorder.named(method, SpanKind.SERVER));
  for (const span of [sent, served]) {
    assert.equal(span.attributes["aiomas.container"], a.addr);
    assert.equal(span.attributes["aiomas.agent.callee"], callee.addr);
    assert.equal(span.attributes["aiomas.codec"], "json");
    assert.equal(span.attributes["network.peer.address"], "127.0.0.1");
    assert.equal(span.attributes["network.peer.port"], port(a));
  }
  assert.equal(served.parentSpanContext?.spanId, sent.spanContext().spanId);
  assert.equal(served.spanContext().traceId, sent.spanContext().traceId);
});

Deno.test("same-container calls count in the call metrics", async () => {
  await using recorder = new Recorder();
  await using a = await Container.create(LOCAL, {
    telemetry: recorder.options,
  });
  const callee = new Callee(a);
  const proxy = await a.connect<Callee>(callee.addr);
  await proxy.echo(1);
  await proxy.echo(2);
  const method = `agents/${callee.aid}/echo`;
  for (const side of ["client", "server"]) {
    const started = await recorder.points(
      `aiomas.rpc.${side}.calls.started`,
    );
    assert.deepEqual(
      started.map((point) => [point.attributes["rpc.method"], point.value]),
      [[method, 2]],
    );
  }
  // They take no connection.
  assert.deepEqual(await recorder.points("aiomas.rpc.connections.open"), []);
});

Deno.test("a failing same-container call: RemoteError on the client span, the handler's error on the server span", async () => {
  await using recorder = new Recorder();
  await using a = await Container.create(LOCAL, {
    telemetry: recorder.options,
  });
  const callee = new Callee(a);
  const proxy = await a.connect<Callee>(callee.addr);
  await assert.rejects(proxy.fail(), { name: "RemoteError" });
  const method = `agents/${callee.aid}/fail`;
  const sent = one(await recorder.named(method, SpanKind.CLIENT));
  const served = one(await recorder.named(method, SpanKind.SERVER));
  assert.equal(sent.status.code, SpanStatusCode.ERROR);
  assert.equal(sent.attributes["error.type"], "RemoteError");
  assert.equal(sent.attributes["aiomas.remote_error.type"], "ValueError");
  assert.equal(served.status.code, SpanStatusCode.ERROR);
  assert.equal(served.attributes["error.type"], "ValueError");
  // A path the container does not have is _OTHER on the server side.
  const dynamic = await a.connect(callee.addr);
  await assert.rejects(dynamic.nothing(), { name: "RemoteError" });
  one(await recorder.named(`agents/${callee.aid}/nothing`, SpanKind.CLIENT));
  const other = one(await recorder.named("_OTHER", SpanKind.SERVER));
  assert.equal(other.attributes["error.type"], "LookupError");
});

Deno.test("an abandoned same-container call: the client span ends at the abort, the server span when the handler answers", async () => {
  await using recorder = new Recorder();
  await using a = await Container.create(LOCAL, {
    telemetry: recorder.options,
  });
  const callee = new Callee(a);
  const proxy = await a.connect<Callee>(callee.addr);
  const controller = new AbortController();
  const call = withOptions(proxy, { signal: controller.signal }).hold();
  await callee.holding.promise;
  controller.abort();
  await assert.rejects(call, { name: "AbortError" });
  const method = `agents/${callee.aid}/hold`;
  const sent = one(await recorder.named(method, SpanKind.CLIENT));
  assert.equal(sent.attributes["error.type"], "AbortError");
  assert.deepEqual(await recorder.named(method, SpanKind.SERVER), []);
  callee.release.resolve();
  // The handler's answer is dropped; its span ends with it.
  await callee.hold();
  const served = one(await recorder.named(method, SpanKind.SERVER));
  assert.equal(served.status.code, SpanStatusCode.UNSET);
});

Deno.test("calls made while an agent serves one name it as aiomas.agent.caller", async () => {
  using _context = contextManager();
  await using recorder = new Recorder();
  await using a = await Container.create(LOCAL, {
    telemetry: recorder.options,
  });
  await using b = await Container.create(LOCAL, {
    telemetry: recorder.options,
  });
  const relay = new Relay(a);
  const local = new Callee(a);
  const remote = new Callee(b);
  const proxy = await a.connect<Relay>(relay.addr);
  assert.equal(await proxy.relay(remote.addr, 4), 4);
  assert.equal(await proxy.relay(local.addr, 5), 5);
  const relayed = await recorder.named(
    `agents/${relay.aid}/relay`,
    SpanKind.SERVER,
  );
  assert.equal(relayed.length, 2);
  const [toRemote, toLocal] = relayed;
  // Across containers: known on the client span, children of the handler's.
  const sent = one(
    await recorder.named(`agents/${remote.aid}/echo`, SpanKind.CLIENT),
  );
  assert.equal(sent.attributes["aiomas.agent.caller"], relay.addr);
  assert.equal(sent.attributes["aiomas.agent.callee"], remote.addr);
  assert.equal(sent.parentSpanContext?.spanId, toRemote.spanContext().spanId);
  const validated = one(await recorder.named("validate_aid", SpanKind.CLIENT));
  assert.equal(validated.attributes["aiomas.agent.caller"], relay.addr);
  assert.equal(validated.attributes["aiomas.agent.callee"], undefined);
  // ... but not on the server span: the wire does not carry it.
  const served = one(
    await recorder.named(`agents/${remote.aid}/echo`, SpanKind.SERVER),
  );
  assert.equal(served.attributes["aiomas.agent.caller"], undefined);
  assert.equal(served.attributes["aiomas.agent.callee"], remote.addr);
  // Within the container: known on both.
  const method = `agents/${local.aid}/echo`;
  const localSent = one(await recorder.named(method, SpanKind.CLIENT));
  const localServed = one(await recorder.named(method, SpanKind.SERVER));
  for (const span of [localSent, localServed]) {
    assert.equal(span.attributes["aiomas.agent.caller"], relay.addr);
    assert.equal(span.attributes["aiomas.agent.callee"], local.addr);
  }
  assert.equal(
    localSent.parentSpanContext?.spanId,
    toLocal.spanContext().spanId,
  );
  // The relay's own spans: called from the test, not from an agent.
  assert.equal(toRemote.attributes["aiomas.agent.caller"], undefined);
});

Deno.test("a connection dialed while serving a call does not make later calls on it children of that call", async () => {
  using _context = contextManager();
  await using recorder = new Recorder();
  await using a = await Container.create(LOCAL, {
    telemetry: recorder.options,
  });
  await using b = await Container.create(LOCAL, {
    telemetry: recorder.options,
  });
  const relay = new Relay(a);
  const callee = new Callee(b);
  // The relay dials B inside its handler and hands itself over: B calls it
  // back over that connection, now and later.
  const proxy = await a.connect<Relay>(relay.addr);
  assert.equal(await proxy.handOver(callee.addr), 1);
  const calleeProxy = await b.connect<Callee>(callee.addr);
  assert.equal(await calleeProxy.callKept(), 2);
  const handedOver = one(
    await recorder.named(`agents/${relay.aid}/handOver`, SpanKind.SERVER),
  );
  const echoes = await recorder.named(
    `agents/${relay.aid}/echo`,
    SpanKind.SERVER,
  );
  assert.equal(echoes.length, 2);
  for (const echo of echoes) {
    // Served on the connection the relay dialed: roots, as every server
    // span of a connection, and the relay is not taken for their caller.
    assert.equal(echo.parentSpanContext, undefined);
    assert.notEqual(
      echo.spanContext().traceId,
      handedOver.spanContext().traceId,
    );
    assert.equal(echo.attributes["aiomas.agent.caller"], undefined);
    assert.equal(echo.attributes["aiomas.container"], a.addr);
    assert.equal(echo.attributes["aiomas.agent.callee"], relay.addr);
  }
});

Deno.test("handlers with a call context get it when calls are traced", async () => {
  using _context = contextManager();
  await using recorder = new Recorder();
  await using a = await Container.create(LOCAL, {
    telemetry: recorder.options,
  });
  await using b = await Container.create(LOCAL, {
    telemetry: recorder.options,
  });
  for (const callee of [new Callee(a), new Callee(b)]) {
    assert.equal(await (await a.connect<Callee>(callee.addr)).context(), true);
    const served = await recorder.named(
      `agents/${callee.aid}/context`,
      SpanKind.SERVER,
    );
    assert.equal(
      served.filter((span) =>
        span.attributes["aiomas.agent.callee"] === callee.addr
      ).length,
      1,
    );
  }
});

Deno.test("aiomas.sim_time follows ExternalClock.setTime", async () => {
  await using recorder = new Recorder();
  const clock = new ExternalClock("2026-01-01T00:00:00Z");
  await using a = await Container.create(LOCAL, {
    clock,
    telemetry: recorder.options,
  });
  await using b = await Container.create(LOCAL, {
    clock,
    telemetry: recorder.options,
  });
  const local = new Callee(a);
  const remote = new Callee(b);
  const localProxy = await a.connect<Callee>(local.addr);
  const remoteProxy = await a.connect<Callee>(remote.addr);
  clock.setTime(5);
  await localProxy.echo(1);
  await remoteProxy.echo(1);
  clock.setTime(10);
  await localProxy.echo(2);
  await remoteProxy.echo(2);
  for (const agent of [local, remote]) {
    const method = `agents/${agent.aid}/echo`;
    for (const kind of [SpanKind.CLIENT, SpanKind.SERVER]) {
      const spans = (await recorder.named(method, kind)).filter((span) =>
        span.attributes["aiomas.agent.callee"] === agent.addr
      );
      assert.deepEqual(
        spans.map((span) => span.attributes["aiomas.sim_time"]),
        [5, 10],
        `${method} ${SpanKind[kind]}`,
      );
    }
  }
});

Deno.test("telemetry options: simTime, attributes and callAttributes of the user", async () => {
  await using recorder = new Recorder();
  const clock = new ExternalClock("2026-01-01T00:00:00Z");
  clock.setTime(3);
  await using a = await Container.create(LOCAL, {
    clock,
    telemetry: {
      ...recorder.options,
      simTime: () => 42,
      attributes: { "service.instance.id": "sim-1" },
      callAttributes: (method, side) => ({ "test.call": `${side} ${method}` }),
    },
  });
  const callee = new Callee(a);
  const proxy = await a.connect<Callee>(callee.addr);
  await proxy.echo(1);
  const method = `agents/${callee.aid}/echo`;
  const sent = one(await recorder.named(method, SpanKind.CLIENT));
  assert.equal(sent.attributes["aiomas.sim_time"], 42);
  assert.equal(sent.attributes["service.instance.id"], "sim-1");
  assert.equal(sent.attributes["aiomas.container"], a.addr);
  assert.equal(sent.attributes["aiomas.agent.callee"], callee.addr);
  assert.equal(sent.attributes["test.call"], `client ${method}`);
});

Deno.test("telemetry: false records nothing even with global providers", async () => {
  await using recorder = new Recorder();
  using _global = recorder.registerGlobally();
  await using a = await Container.create(LOCAL, { telemetry: false });
  await using b = await Container.create(LOCAL, { telemetry: false });
  const local = new Callee(a);
  const remote = new Callee(b);
  assert.equal(await (await a.connect<Callee>(local.addr)).echo(1), 1);
  assert.equal(await (await a.connect<Callee>(remote.addr)).echo(2), 2);
  await recorder.assertNothingRecorded();
});

Deno.test("the global providers are used by default", async () => {
  await using recorder = new Recorder();
  trace.setGlobalTracerProvider(recorder.tracerProvider);
  try {
    await using a = await Container.create(LOCAL);
    const callee = new Callee(a);
    await (await a.connect<Callee>(callee.addr)).echo(1);
    const sent = one(
      await recorder.named(`agents/${callee.aid}/echo`, SpanKind.CLIENT),
    );
    assert.equal(sent.attributes["aiomas.container"], a.addr);
  } finally {
    trace.disable();
  }
});

Deno.test("with no provider registered nothing is recorded and agent calls work", async () => {
  await using recorder = new Recorder();
  // Made before registering: a container decides once, when it is made.
  await using a = await Container.create(LOCAL);
  await using b = await Container.create(LOCAL);
  const local = new Callee(a);
  const remote = new Callee(b);
  const relay = new Relay(a);
  const relayProxy = await a.connect<Relay>(relay.addr);
  assert.equal(await relayProxy.relay(remote.addr, 1), 1);
  assert.equal(await relayProxy.relay(local.addr, 2), 2);
  await assert.rejects(
    (await a.connect<Callee>(local.addr)).fail(),
    { name: "RemoteError" },
  );
  using _global = recorder.registerGlobally();
  assert.equal(await relayProxy.relay(remote.addr, 3), 3);
  assert.equal(await relayProxy.relay(local.addr, 4), 4);
  await recorder.assertNothingRecorded();
  // Nor on connections A opens now: to a container that records.
  await using c = await Container.create(LOCAL);
  const late = new Callee(c);
  assert.equal(await relayProxy.relay(late.addr, 5), 5);
  const spans = await recorder.spans();
  assert.ok(spans.length > 0, "c records its side");
  for (const span of spans) {
    assert.equal(span.kind, SpanKind.SERVER);
    assert.equal(span.attributes["aiomas.container"], c.addr);
  }
});

Deno.test("a container shutting down while serving a call: the call's server span gets aiomas.connection.closed", async () => {
  await using recorder = new Recorder();
  await using a = await Container.create(LOCAL, {
    telemetry: recorder.options,
  });
  const b = await Container.create(LOCAL, { telemetry: recorder.options });
  const callee = new Callee(b);
  const proxy = await a.connect<Callee>(callee.addr);
  const held = proxy.hold();
  await callee.holding.promise;
  const shutdown = b.shutdown();
  // A graceful close still sends the answer of a call being served.
  callee.release.resolve();
  assert.equal(await held, "held");
  await shutdown;
  const method = `agents/${callee.aid}/hold`;
  const served = one(await recorder.named(method, SpanKind.SERVER));
  const events = served.events.filter((event) =>
    event.name === "aiomas.connection.closed"
  );
  assert.equal(events.length, 1);
  assert.equal(
    events[0].attributes?.["exception.type"],
    "ConnectionClosedError",
  );
  assert.equal(events[0].attributes?.["error.type"], undefined);
  assert.equal(served.attributes["aiomas.container"], b.addr);
  // Answered before A saw the connection go: no event on its side.
  const sent = one(await recorder.named(method, SpanKind.CLIENT));
  assert.deepEqual(sent.events, []);
  assert.equal(sent.status.code, SpanStatusCode.UNSET);
});

Deno.test("dialing another container is a span aiomas.connect, a child of the call that needed it", async () => {
  using _context = contextManager();
  await using recorder = new Recorder();
  const clock = new ExternalClock("2026-01-01T00:00:00Z");
  await using a = await Container.create(LOCAL, {
    telemetry: recorder.options,
    clock,
  });
  await using b = await Container.create(LOCAL, {
    telemetry: recorder.options,
  });
  clock.setTime(3);
  const relay = new Relay(a);
  const callee = new Callee(b);
  const proxy = await a.connect<Relay>(relay.addr);
  assert.equal(await proxy.relay(callee.addr, 5), 5);
  // Connected once: the second call reuses the connection.
  assert.equal(await proxy.relay(callee.addr, 6), 6);
  const connects = (await recorder.spans()).filter((span) =>
    span.name === "aiomas.connect"
  );
  const connect = one(connects);
  assert.equal(connect.kind, SpanKind.INTERNAL);
  assert.equal(connect.status.code, SpanStatusCode.UNSET);
  assert.equal(connect.attributes["server.address"], "127.0.0.1");
  assert.equal(connect.attributes["server.port"], port(b));
  assert.equal(connect.attributes["aiomas.container"], a.addr);
  assert.equal(connect.attributes["aiomas.sim_time"], 3);
  const relayed = (await recorder.named(
    `agents/${relay.aid}/relay`,
    SpanKind.SERVER,
  ))[0];
  assert.equal(
    connect.parentSpanContext?.spanId,
    relayed.spanContext().spanId,
  );
  // A dial that fails: the span says why.
  const listener = Deno.listen(LOCAL);
  const closed = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await assert.rejects(a.connect(`tcp://127.0.0.1:${closed}/0`));
  const failed = (await recorder.spans()).filter((span) =>
    span.name === "aiomas.connect" && span.attributes["server.port"] === closed
  );
  assert.equal(one(failed).status.code, SpanStatusCode.ERROR);
  assert.ok(typeof failed[0].attributes["error.type"] === "string");
  assert.equal(failed[0].events[0].name, "exception");
});
