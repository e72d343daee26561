// OpenTelemetry spans around the connections between containers: calls served
// on a connection dialed in a handler, a shutdown while serving a call, and the
// aiomas.connect span of a dial; recorded by in-memory providers.
import assert from "node:assert/strict";
import { contextManager, Recorder } from "../_telemetry.ts";
import { SpanKind, SpanStatusCode } from "npm:@opentelemetry/api@^1.9.0";
import { Container, ExternalClock } from "../../agent/mod.ts";
import { Callee, LOCAL, one, port, Relay } from "./_telemetry_fixtures.ts";

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
