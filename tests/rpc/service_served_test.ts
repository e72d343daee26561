// Routing and exposure as served to a peer through an RpcClient pair:
// kwargs binding with Python's TypeError texts, and LookupError replies.
import assert from "node:assert/strict";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import { RemoteError } from "../../errors.ts";
import { expose, RpcClient, ServiceDict } from "../../rpc/mod.ts";
import { MathServer } from "./_service_math_server.ts";

// Keyword arguments are bound when a request is served, so these go
// through an RpcClient pair.
function servedPair(service: object) {
  const [a, b] = createMemoryPair();
  const server = new RpcClient(new Channel(b), { service });
  const client = new RpcClient(new Channel(a));
  return {
    client,
    server,
    async [Symbol.asyncDispose]() {
      await client.close();
      await server.close();
    },
  };
}

async function assertRemoteTypeError(
  promise: Promise<unknown>,
  message: string,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof RemoteError);
    assert.equal(error.remoteName, "TypeError");
    assert.equal(error.remoteMessage, message);
    assert.ok(error.remoteTraceback.endsWith(`TypeError: ${message}\n`));
    return true;
  });
}

Deno.test("service: kwargs bind by name through @expose({params})", async () => {
  await using pair = servedPair(new MathServer());
  const { client } = pair;
  assert.equal(await client.call("sub/mul", [6], { b: 7 }), 42);
  assert.equal(await client.call("sub/mul", [], { a: 6, b: 7 }), 42);
  assert.equal(await client.call("sub/mul", [], { b: 7, a: 6 }), 42);
  // Missing ones take their JavaScript defaults.
  assert.equal(await client.call("sub/mul", [], { a: 6 }), 6);
  assert.equal(await client.call("sub/mul", [6], {}), 6);
  assert.equal(await client.call("sub/mul", [6]), 6);
  assert.equal(await client.call("slowAdd", [3, 4], {}), 7);
});

Deno.test("service: bad kwargs give Python's TypeError texts", async () => {
  await using pair = servedPair(new MathServer());
  const { client } = pair;
  await assertRemoteTypeError(
    client.call("sub/mul", [6], { c: 1 }),
    "Sub.mul() got an unexpected keyword argument 'c'",
  );
  await assertRemoteTypeError(
    client.call("sub/mul", [6], { a: 1 }),
    "Sub.mul() got multiple values for argument 'a'",
  );
  // A peer's long name is cut.
  await assertRemoteTypeError(
    client.call("sub/mul", [6], { ["k".repeat(500)]: 1 }),
    `Sub.mul() got an unexpected keyword argument '${
      "k".repeat(200)
    }… (500 characters)'`,
  );
  await assertRemoteTypeError(
    client.call("sub/mul", [6, 7], { b: 1 }),
    "Sub.mul() got multiple values for argument 'b'",
  );
  await assertRemoteTypeError(
    client.call("add", [1], { b: 2 }),
    "MathServer.add() got keyword arguments (b) but declares no params for them (mark it @expose({ params: [...] }))",
  );
  await assertRemoteTypeError(
    client.call("inheritedExposed", [], { x: 1, y: 2 }),
    "Base.inheritedExposed() got keyword arguments (x, y) but declares no params for them (mark it @expose({ params: [...] }))",
  );
  // The connection is still fine.
  assert.equal(await client.call("add", [1, 2]), 3);
});

Deno.test("service: declared params refuse extra positional arguments", async () => {
  await using math = servedPair(new MathServer());
  await assertRemoteTypeError(
    math.client.call("sub/mul", [6, 7, 8]),
    "Sub.mul() takes at most 2 positional arguments but 3 were given",
  );
  await assertRemoteTypeError(
    math.client.call("sub/mul", [6, 7, 8], { a: 1 }),
    "Sub.mul() takes at most 2 positional arguments but 3 were given",
  );
  assert.equal(await math.client.call("sub/mul", [6, 7]), 42);
  await using pair = servedPair(
    new ServiceDict({
      none: expose(() => 0, { params: [] }),
      add: (a: number, b: number) => a + b,
    }),
  );
  const { client } = pair;
  await assertRemoteTypeError(
    client.call("none", [1]),
    "none() takes at most 0 positional arguments but 1 was given",
  );
  // Without params nothing says how many there are: extra ones are
  // ignored, as JavaScript ignores them.
  assert.equal(await client.call("add", [1, 2, 3]), 3);
  assert.equal(await client.call("none", []), 0);
});

Deno.test("service: kwargs for ServiceDict functions need expose(fn, {params})", async () => {
  await using pair = servedPair(
    new ServiceDict({
      mul: expose((a: number, b = 1) => a * b, { params: ["a", "b"] }),
      add: (a: number, b: number) => a + b,
    }),
  );
  const { client } = pair;
  assert.equal(await client.call("mul", [6], { b: 7 }), 42);
  assert.equal(await client.call("mul", [], { a: 6 }), 6);
  await assertRemoteTypeError(
    client.call("mul", [6], { c: 7 }),
    "mul() got an unexpected keyword argument 'c'",
  );
  await assertRemoteTypeError(
    client.call("add", [6], { b: 7 }),
    "add() got keyword arguments (b) but declares no params for them (mark it @expose({ params: [...] }))",
  );
});

Deno.test("service: lookup errors travel as LookupError replies", async () => {
  await using pair = servedPair(new MathServer());
  const { client } = pair;
  const cases: [string, string][] = [
    ["nope", 'Name "nope" not found in ""'],
    ["sub/nope", 'Name "nope" not found in "sub"'],
    ["secret", '"MathServer.secret" is not exposed'],
    ["__proto__", '"Object.__proto__" is not exposed'],
    ["sub//mul", 'Name "" not found in "sub"'],
  ];
  for (const [path, message] of cases) {
    await assert.rejects(client.call(path, []), (error: unknown) => {
      assert.ok(error instanceof RemoteError);
      assert.equal(error.remoteName, "LookupError", path);
      assert.equal(error.remoteMessage, message, path);
      return true;
    });
  }
});

Deno.test("a gateway serves another peer's remote functions as its own (they are applied, never asked for .apply)", async () => {
  await using upstream = servedPair(new MathServer());
  const up = upstream.client.remote as unknown as {
    add(a: number, b: number): Promise<number>;
  };
  class Gateway {
    @expose
    add = up.add;
  }
  for (const gateway of [new ServiceDict({ add: up.add }), new Gateway()]) {
    await using pair = servedPair(gateway);
    assert.equal(await pair.client.call("add", [1, 2]), 3);
  }
});
