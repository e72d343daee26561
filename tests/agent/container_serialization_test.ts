// What travels in calls between containers: agent references (and proxies),
// and dates, also as they look on the wire.
import assert from "node:assert/strict";
import { Agent, Container, type DynamicRemote } from "../../agent/mod.ts";
import { SerializationError } from "../../errors.ts";
import { expose } from "../../rpc/mod.ts";
import { countingAccepts, FrameReader, textFrame, writeAll } from "./_wire.ts";
import { Callee, Caller, LOCAL } from "./_container_fixtures.ts";

Deno.test("Agent references travel both ways over one connection", async () => {
  const { value: a, accepted: acceptedByA } = await countingAccepts(() =>
    Container.create(LOCAL)
  );
  await using _a = a;
  const { value: b, accepted: acceptedByB } = await countingAccepts(() =>
    Container.create(LOCAL)
  );
  await using _b = b;
  const caller = new Caller(a);
  const callee = new Callee(b);
  const proxy = await a.connect<Callee>(callee.addr);
  // Pass our agent; the callee calls back through the reference.
  const [pong, date] = await proxy.call_me_back(
    caller,
    new Date("2016-01-01T00:00:00Z"),
  ) as [string, Date];
  assert.equal(pong, "pong");
  assert.ok(date instanceof Date);
  assert.equal(date.toISOString(), "2016-01-02T00:00:00.000Z");
  // The callee sees a proxy, not an agent.
  const seen = await proxy.describe(caller) as Record<string, unknown>;
  assert.equal(seen.type, "function");
  assert.equal(seen.isAgent, false);
  assert.match(String(seen.text), /^AgentProxy\('.*0'\)$/);
  // A returned agent arrives as a proxy that calls over the same connection.
  const self = await proxy.self() as DynamicRemote;
  assert.deepEqual(await self.service("via reference"), "via reference");
  assert.equal(acceptedByB(), 1);
  assert.equal(acceptedByA(), 0);
});

Deno.test("Dates travel and come back as Date", async () => {
  await using a = await Container.create(LOCAL);
  await using b = await Container.create(LOCAL);
  const proxy = await a.connect<Callee>(new Callee(b).addr);
  for (
    const text of [
      "2016-01-01T00:00:00.000Z",
      "2016-01-01T00:00:02.500Z",
      "1969-12-31T23:59:59.999Z",
      "2038-01-19T03:14:08.001Z",
    ]
  ) {
    const back = await proxy.service(new Date(text));
    assert.ok(back instanceof Date, text);
    assert.equal(back.toISOString(), text);
  }
  const nested = await proxy.service({ when: [new Date(0)] }) as {
    when: Date[];
  };
  assert.ok(nested.when[0] instanceof Date);
  assert.equal(nested.when[0].getTime(), 0);
  const seen = await proxy.describe(new Date(0)) as Record<string, unknown>;
  assert.equal(seen.isDate, true);
  // An invalid date cannot be sent.
  await assert.rejects(proxy.service(new Date(NaN)), SerializationError);
});

Deno.test("Dates are typeid 0 ISO-8601 strings on the wire", async () => {
  await using listener = Deno.listen(LOCAL);
  const port = (listener.addr as Deno.NetAddr).port;
  await using a = await Container.create(LOCAL);
  const peer = (async () => {
    using conn = await listener.accept();
    const reader = new FrameReader(conn);
    const decode = async () =>
      JSON.parse(new TextDecoder().decode((await reader.read())!));
    assert.deepEqual(await decode(), [0, 0, ["validate_aid", ["0"], {}]]);
    await writeAll(conn, textFrame('[1, 0, "Callee"]'));
    assert.deepEqual(await decode(), [0, 1, ["agents/0/service", [
      { __type__: [0, "2016-01-01T00:00:02.500000+00:00"] },
      { __type__: [0, "2016-01-01T00:00:00+00:00"] },
    ], {}]]);
    // Python sends other offsets and microseconds too.
    await writeAll(
      conn,
      textFrame(
        '[1, 1, [{"__type__": [0, "2016-01-01T01:00:00+01:00"]}, ' +
          '{"__type__": [0, "2016-01-01T00:00:00.123456+00:00"]}]]',
      ),
    );
    assert.equal(await reader.read(), null);
  })();
  const proxy = await a.connect(`tcp://127.0.0.1:${port}/0`);
  const result = await proxy.service(
    new Date("2016-01-01T00:00:02.500Z"),
    new Date("2016-01-01T00:00:00Z"),
  ) as Date[];
  assert.deepEqual(result.map((d) => d.toISOString()), [
    "2016-01-01T00:00:00.000Z",
    "2016-01-01T00:00:00.123Z",
  ]);
  await a.shutdown();
  await peer;
});

class Forwarder extends Agent {
  @expose
  async callBack(other: { ping(): Promise<string> }): Promise<string> {
    return await other.ping();
  }
}

class Pinger extends Agent {
  @expose
  ping(): string {
    return "pong";
  }
}

Deno.test("a proxy of one's own agent travels as a reference; other proxies do not", async () => {
  await using a = await Container.create(LOCAL);
  await using b = await Container.create(LOCAL);
  const pinger = new Pinger(a);
  const forwarder = new Forwarder(b);
  const self = await a.connect(pinger.addr);
  const remote = await a.connect<Forwarder>(forwarder.addr);
  assert.equal(await remote.callBack(self as never), "pong");
  // A proxy of another container's agent cannot be passed, not even back.
  await assert.rejects(remote.callBack(remote as never), {
    name: "SerializationError",
    message:
      /^Cannot pass ForwarderProxy\('.*'\) back to the peer it came from/,
  });
});
