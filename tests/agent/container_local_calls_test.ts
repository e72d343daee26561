// Calls between agents of one container: the semantics of remote calls,
// through the codec, without the network.
import assert from "node:assert/strict";
import { Container, type DynamicRemote } from "../../agent/mod.ts";
import { JsonCodec } from "../../codecs/mod.ts";
import { RemoteError, SerializationError } from "../../errors.ts";
import { countingAccepts } from "./_wire.ts";
import { Callee, Caller, LOCAL, Point } from "./_container_fixtures.ts";

/** A JSON codec that counts what every instance encodes. */
class CountingCodec extends JsonCodec {
  static encodes = 0;

  override encode(value: unknown): Uint8Array {
    CountingCodec.encodes++;
    return super.encode(value);
  }
}

Deno.test("Local calls: the same semantics as remote ones", async () => {
  await using container = await Container.create(LOCAL, {
    serializers: [[
      Point,
      (p: Point) => [p.x, p.y],
      (data: unknown) => new Point(...(data as [number, number])),
    ]],
  });
  const caller = new Caller(container);
  const callee = new Callee(container);
  const proxy = await container.connect<Callee>(callee.addr);
  assert.equal(String(proxy), `CalleeProxy('${callee.addr}')`);
  assert.equal(await proxy.service(42), 42);
  assert.equal(await proxy.service(undefined), null);

  // Arguments and results are copied, not shared.
  const mine = { x: 1, list: [1, 2, 3] };
  const result = await proxy.keep(mine);
  assert.deepEqual(mine, { x: 1, list: [1, 2, 3] });
  assert.deepEqual(result, { x: 99, list: [1, 2, 3, 4] });
  assert.notEqual(result, callee.kept);
  assert.deepEqual(callee.kept, result);

  // Serializable classes go through their serializer.
  const point = new Point(1, 2);
  const back = await proxy.service(point);
  assert.ok(back instanceof Point);
  assert.notEqual(back, point);
  assert.deepEqual(back, point);
  assert.equal(
    (await proxy.describe(point) as Record<string, unknown>).isPoint,
    true,
  );
  const date = new Date("2016-01-01T00:00:00Z");
  const sameDate = await proxy.service(date);
  assert.ok(sameDate instanceof Date);
  assert.notEqual(sameDate, date);
  assert.equal(sameDate.getTime(), date.getTime());

  // An agent argument arrives as a proxy, which calls back.
  const seen = await proxy.describe(caller) as Record<string, unknown>;
  assert.deepEqual(seen, {
    text: `CallerProxy('${caller.addr}')`,
    type: "function",
    isAgent: false,
    isDate: false,
    isPoint: false,
  });
  const [pong, later] = await proxy.call_me_back(caller, date) as [
    string,
    Date,
  ];
  assert.equal(pong, "pong");
  assert.equal(later.toISOString(), "2016-01-02T00:00:00.000Z");
  // A returned agent is a proxy too.
  const self = await proxy.self() as DynamicRemote;
  assert.equal(String(self), `CalleeProxy('${callee.addr}')`);
  assert.equal(await self.service("again"), "again");

  // Errors arrive as RemoteError.
  await assert.rejects(proxy.fail("nope"), (error: unknown) => {
    assert.ok(error instanceof RemoteError);
    assert.equal(error.remoteName, "RangeError");
    assert.equal(error.remoteMessage, "nope");
    assert.equal(error.origin, container.addr);
    return true;
  });
  const dynamic = proxy as unknown as DynamicRemote;
  await assert.rejects(dynamic.missing(), (error: unknown) => {
    assert.ok(error instanceof RemoteError);
    assert.equal(error.remoteName, "LookupError");
    assert.match(error.remoteMessage, /missing/);
    return true;
  });
  // A result that cannot be sent back is the callee's error, as remotely.
  await assert.rejects(proxy.unsendable(), (error: unknown) => {
    assert.ok(error instanceof RemoteError);
    assert.equal(error.remoteName, "SerializationError");
    return true;
  });

  // Arguments that cannot be sent are refused before the call.
  class Unregistered {}
  for (
    const bad of [() => {}, Symbol("s"), new Unregistered(), [
      1,
      new Unregistered(),
    ]]
  ) {
    await assert.rejects(proxy.service(bad), SerializationError);
  }
  const cyclic: unknown[] = [];
  cyclic.push(cyclic);
  await assert.rejects(proxy.service(cyclic), SerializationError);
});

Deno.test("Local and remote calls fail alike", async () => {
  await using a = await Container.create(LOCAL);
  await using b = await Container.create(LOCAL);
  const callee = new Callee(b);
  const remote = await a.connect<Callee>(callee.addr);
  const local = await b.connect<Callee>(callee.addr);
  for (const proxy of [remote, local]) {
    const which = String(proxy) + (proxy === local ? " (local)" : "");
    await assert.rejects(proxy.fail("x"), RemoteError, which);
    await assert.rejects(proxy.unsendable(), RemoteError, which);
    await assert.rejects(proxy.service(() => {}), SerializationError, which);
    await assert.rejects(
      proxy.service(new (class Unregistered {})()),
      SerializationError,
      which,
    );
  }
});

Deno.test("Local calls do not touch the network, but go through the codec", async () => {
  const { value: container, accepted } = await countingAccepts(() =>
    Container.create(LOCAL, { codec: CountingCodec })
  );
  await using _container = container;
  CountingCodec.encodes = 0;
  const caller = new Caller(container);
  const callee = new Callee(container);
  const proxy = await container.connect<Callee>(callee.addr);
  assert.equal(
    await proxy.service({ deep: [1, "two", new Date(0)] }).then(
      (v) => JSON.stringify(v),
    ),
    '{"deep":[1,"two","1970-01-01T00:00:00.000Z"]}',
  );
  await proxy.call_me_back(caller, new Date(0));
  await proxy.self();
  await assert.rejects(proxy.fail("x"), RemoteError);
  // Arguments and results take the round trip through the container's
  // codec (a subclass that overrides encode is used as such).
  assert.ok(CountingCodec.encodes >= 6, String(CountingCodec.encodes));
  assert.equal(accepted(), 0);
  // A remote call is what accepts a connection.
  await using other = await Container.create(LOCAL, { codec: CountingCodec });
  const remote = await other.connect<Callee>(callee.addr);
  assert.equal(await remote.service(1), 1);
  assert.equal(accepted(), 1);
});
