// What decides what agent calls record: aiomas.sim_time of an ExternalClock,
// the telemetry options of ContainerOptions, telemetry: false, and the global
// OpenTelemetry providers (registered or not); recorded by in-memory providers.
import assert from "node:assert/strict";
import { Recorder } from "../_telemetry.ts";
import { SpanKind, trace } from "npm:@opentelemetry/api@^1.9.0";
import { Container, ExternalClock } from "../../agent/mod.ts";
import { Callee, LOCAL, one, Relay } from "./_telemetry_fixtures.ts";

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
