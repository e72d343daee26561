// OpenTelemetry spans and metrics of agent calls: across containers (TCP) and
// between agents of one container, failed and abandoned calls, and the calling
// agent; recorded by in-memory providers (dev-only SDK packages) given in
// ContainerOptions.telemetry.
import assert from "node:assert/strict";
import { contextManager, Recorder } from "../_telemetry.ts";
import { SpanKind, SpanStatusCode } from "npm:@opentelemetry/api@^1.9.0";
import {} from "npm:@opentelemetry/sdk-metrics@^2.12.1";
import { Container, withOptions } from "../../agent/mod.ts";
import { Callee, LOCAL, one, port, Relay } from "./_telemetry_fixtures.ts";

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
