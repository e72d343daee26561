// What a remote proxy does besides calls: it is no thenable (an await of a
// value holding one fails instead of hanging), no JSON (stringifying a value
// holding one sends nothing), its sub-path proxies are kept within a bound,
// and its type leaves out fields that hold data.
import assert from "node:assert/strict";
import { assertCollected, collectGarbage } from "../_collect.ts";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import {
  type DynamicRemote,
  expose,
  type Remote,
  RpcClient,
  ServiceDict,
} from "../../rpc/mod.ts";

function pair(service: object) {
  const [a, b] = createMemoryPair();
  const server = new RpcClient(new Channel(b), { service });
  const client = new RpcClient(new Channel(a));
  return {
    remote: client.remote as DynamicRemote,
    async [Symbol.asyncDispose]() {
      await client.close();
      await server.close();
    },
  };
}

const NOT_THENABLE = (label: string) => (error: unknown): boolean => {
  assert.ok(error instanceof TypeError, String(error));
  assert.equal(
    error.message,
    `Cannot await ${label}: a remote proxy is not a thenable`,
  );
  return true;
};

Deno.test("proxy: a value holding one under 'then' fails to await instead of hanging", async () => {
  await using p = pair(new ServiceDict({ other: () => "called" }));
  const held: unknown = { then: p.remote.other };
  await assert.rejects(
    (async () => await held)(),
    NOT_THENABLE("RpcProxy('other')"),
  );
});

Deno.test("proxy: a call with two callbacks is a call (refused as functions cannot be sent), and never calls them", async () => {
  await using p = pair(new ServiceDict({ m: () => "called" }));
  const called: unknown[] = [];
  const result = p.remote.m(
    (data: unknown) => called.push(data),
    (reason: unknown) => called.push(reason),
  );
  assert.ok(result instanceof Promise);
  await assert.rejects(result, (error) => {
    assert.match(String(error), /Cannot encode a function/);
    return true;
  });
  assert.deepEqual(called, []);
});

Deno.test("proxy: JSON.stringify of a value holding one calls nothing on the peer", async () => {
  let called = 0;
  await using p = pair(
    new ServiceDict({
      toJSON: () => {
        called++;
        return "called";
      },
      ok: () => "ok",
    }),
  );
  assert.equal(JSON.stringify({ cb: p.remote.cb }), "{}");
  // A call sent after it is answered after it.
  assert.equal(await p.remote.ok(), "ok");
  assert.equal(called, 0);
});

Deno.test("proxy: Deno's console shows it by its label", async () => {
  await using p = pair(new ServiceDict({}));
  assert.equal(Deno.inspect(p.remote), "RpcProxy('')");
  assert.equal(Deno.inspect(p.remote.sub.add), "RpcProxy('sub/add')");
  assert.equal(Deno.inspect({ a: p.remote.x }), "{ a: RpcProxy('x') }");
  // Reading the hook through the proxy is no error (a Proxy invariant).
  assert.equal(
    (p.remote as unknown as Record<symbol, unknown>)[
      Symbol.for("Deno.customInspect")
    ],
    undefined,
  );
  // A function's prototype, which no code can change to take the label.
  const proxy = p.remote.x;
  assert.equal(Object.getPrototypeOf(proxy), Function.prototype);
  assert.throws(() => Object.setPrototypeOf(proxy, null), TypeError);
  // Nor can it be frozen, which would make that answer a lie.
  assert.throws(() => Object.freeze(proxy), TypeError);
  assert.ok(proxy instanceof Function);
  assert.equal(Deno.inspect(proxy), "RpcProxy('x')");
});

Deno.test("proxy: sub-path proxies are kept (one per name), within a bound", async () => {
  await using p = pair(new ServiceDict({}));
  const items = p.remote.items;
  assert.equal(items.a, items.a);
  const first = new WeakRef(items.a);
  // Reading many other names drops the ones kept before.
  for (let i = 0; i < 5000; i++) void items[`id${i}`];
  await collectGarbage();
  assertCollected([first], () => "the proxy of items/a is still kept");
});

class Sub {
  @expose
  mul(a: number, b: number): number {
    return a * b;
  }
}

class Service {
  @expose
  sub = new Sub();
  // Typed as what they hold when set.
  @expose
  maybe: Sub | undefined = new Sub();
  @expose
  nullable: Sub | null = new Sub();
  @expose
  later?: (a: number) => number = (a) => a + 1;
  tags: string[] = [];
  dates?: Date[];
  nothing: null = null;
  when = new Date(0);
  table = new Map<string, number>();
  bytes = new Uint8Array(1);
  count = 1;

  @expose
  add(a: number, b: number): number {
    return a + b;
  }
}

Deno.test("Remote<T>: methods and sub-services are typed, fields that hold data are left out", async () => {
  const [a, b] = createMemoryPair();
  await using server = new RpcClient(new Channel(b), {
    service: new Service(),
  });
  await using client = new RpcClient<Service>(new Channel(a));
  const remote: Remote<Service> = client.remote;
  const sum: Promise<number> = remote.add(1, 2);
  const product: Promise<number> = remote.sub.mul(6, 7);
  assert.deepEqual(await Promise.all([sum, product]), [3, 42]);
  const optional: Promise<number>[] = [
    remote.maybe.mul(2, 3),
    remote.nullable.mul(2, 4),
    remote.later(1),
  ];
  assert.deepEqual(await Promise.all(optional), [6, 8, 2]);
  // @ts-expect-error: an array is data
  void remote.tags;
  // @ts-expect-error: an optional array is data too
  void remote.dates;
  // @ts-expect-error: a field that only holds null is nothing to call
  void remote.nothing;
  // @ts-expect-error: a Date is data
  void remote.when;
  // @ts-expect-error: a Map is data
  void remote.table;
  // @ts-expect-error: bytes are data
  void remote.bytes;
  // @ts-expect-error: a number is data
  void remote.count;
  assert.ok(server);
});
