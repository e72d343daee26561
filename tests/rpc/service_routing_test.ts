// Routing and exposure, resolved locally: what a peer can reach on a
// service, and the exact aiomas LookupError texts for everything it cannot.
import assert from "node:assert/strict";
import { expose, Service } from "../../rpc/mod.ts";
import { MathServer, Sub } from "./_service_math_server.ts";
import { assertLookupError, call } from "./_service_assert.ts";

Deno.test("service: exposed methods, sub-service fields and async handlers resolve", async () => {
  const server = new MathServer();
  const router = Service.of(server);
  assert.equal(await call(router, "add", 3, 4), 7);
  assert.equal(await call(router, "slowAdd", 3, 4), 7);
  assert.equal(await call(router, "sub/mul", 6, 7), 42);
  assert.equal(await call(router, "sub/mul", 6), 6);
  assert.equal(await call(router, "tools/neg", 5), -5);
  assert.equal(await call(router, "inheritedExposed"), "from base");
  assert.equal(await call(router, "self"), server);
  const resolved = router.resolve("sub/mul");
  assert.equal(resolved.thisArg, server.sub);
  assert.equal(resolved.qualname, "Sub.mul");
  assert.deepEqual(resolved.options, { params: ["a", "b"] });
  assert.equal(router.resolve("add").qualname, "MathServer.add");
  assert.equal(router.resolve("add").thisArg, server);
  // An inherited method is named after the class that defines it (as
  // Python's __qualname__).
  assert.equal(
    router.resolve("inheritedExposed").qualname,
    "Base.inheritedExposed",
  );
});

Deno.test("service: new Service(this) is the router Service.of returns", () => {
  const server = new MathServer();
  assert.equal(Service.of(server), server.router);
  assert.equal(Service.of(server.router), server.router);
  assert.equal(server.router.target, server);
  // Without one, Service.of makes a router once and keeps it.
  const sub = new Sub();
  assert.equal(Service.of(sub), Service.of(sub));
});

Deno.test("service: unknown names give aiomas's LookupError texts", () => {
  const router = Service.of(new MathServer());
  assertLookupError(router, "nope", 'Name "nope" not found in ""');
  assertLookupError(router, "sub/nope", 'Name "nope" not found in "sub"');
  assertLookupError(router, "nope/add", 'Name "nope" not found in ""');
  assertLookupError(router, "sub/nope/x", 'Name "nope" not found in "sub"');
  assertLookupError(router, "tools/nope", 'Name "nope" not found in "tools"');
  assertLookupError(router, "sub//x", 'Name "" not found in "sub"');
});

Deno.test("service: a path that goes on past a function names the function", () => {
  const router = Service.of(new MathServer());
  const notAService = (qualname: string, path: string) =>
    `"${qualname}" is a function, not a service: cannot call "${path}"`;
  assertLookupError(
    router,
    "add/sub",
    notAService("MathServer.add", "add/sub"),
  );
  assertLookupError(
    router,
    "add/x/y",
    notAService("MathServer.add", "add/x/y"),
  );
  assertLookupError(
    router,
    "inheritedExposed/x",
    notAService("Base.inheritedExposed", "inheritedExposed/x"),
  );
  assertLookupError(router, "tools/neg/x", notAService("neg", "tools/neg/x"));
  // The peer's path is cut in the message.
  assertLookupError(
    router,
    `add/${"x".repeat(1000)}`,
    notAService(
      "MathServer.add",
      `add/${"x".repeat(196)}… (1004 characters)`,
    ),
  );
});

Deno.test('service: an exposed field holding null or a plain value is named, with its type (never its value), not "not found"', () => {
  class Root {
    @expose
    nothing: Sub | null = null;
    @expose
    count = 3;
    // Told to the peer by type only: never its value.
    @expose
    dsn: Sub | string = "postgres://app:s3cret@db/prod";
  }
  const router = Service.of(new Root());
  assertLookupError(
    router,
    "nothing/mul",
    '"Root.nothing" is null, not a service: cannot call "nothing/mul"',
  );
  assertLookupError(
    router,
    "count/x/y",
    '"Root.count" is a number, not a service: cannot call "count/x/y"',
  );
  assertLookupError(
    router,
    "nothing",
    '"Root.nothing" is null, not a function',
  );
  assertLookupError(
    router,
    "count",
    '"Root.count" is a number, not a function',
  );
  assertLookupError(
    router,
    "dsn/x",
    '"Root.dsn" is a string, not a service: cannot call "dsn/x"',
  );
  // Set later, the field is a sub-service.
  const root = new Root();
  root.nothing = new Sub();
  assert.equal(Service.of(root).resolve("nothing/mul").qualname, "Sub.mul");
});

Deno.test("service: a peer's long path is cut in the error, and not split whole", () => {
  const router = Service.of(new MathServer());
  const long = "n".repeat(1000);
  assertLookupError(
    router,
    `sub/${long}/x`,
    `Name "${"n".repeat(200)}… (1000 characters)" not found in "sub"`,
  );
  assertLookupError(
    router,
    `${long}`,
    `Name "${"n".repeat(200)}… (1000 characters)" not found in ""`,
  );
  // Millions of empty names: only the first is looked at.
  assertLookupError(
    router,
    "/".repeat(4_000_000) + "x",
    'Name "" not found in ""',
  );
});

Deno.test("service: non-exposed members are refused with aiomas's texts", () => {
  const server = new MathServer();
  const router = Service.of(server);
  assertLookupError(router, "secret", '"MathServer.secret" is not exposed');
  assertLookupError(router, "sub/secret", 'Name "secret" not found in "sub"');
  assertLookupError(router, "inherited", '"Base.inherited" is not exposed');
  assertLookupError(router, "hidden", '"MathServer.hidden" is not exposed');
  assertLookupError(router, "hidden/mul", 'Name "hidden" not found in ""');
  assertLookupError(router, "data", '"MathServer.data" is not exposed');
  assertLookupError(
    router,
    "getterRuns",
    '"MathServer.getterRuns" is not exposed',
  );
  assertLookupError(router, "router", '"MathServer.router" is not exposed');
  assertLookupError(router, "router/resolve", 'Name "router" not found in ""');
  // A sub-service is not itself callable.
  assertLookupError(router, "sub", '"MathServer.sub" is not exposed');
});

Deno.test("service: Object.prototype members and the constructor are refused", () => {
  const router = Service.of(new MathServer());
  assertLookupError(router, "__proto__", '"Object.__proto__" is not exposed');
  assertLookupError(
    router,
    "constructor",
    '"MathServer.constructor" is not exposed',
  );
  assertLookupError(router, "toString", '"Object.toString" is not exposed');
  assertLookupError(
    router,
    "hasOwnProperty",
    '"Object.hasOwnProperty" is not exposed',
  );
  assertLookupError(router, "valueOf", '"Object.valueOf" is not exposed');
  assertLookupError(
    router,
    "sub/__proto__",
    '"Object.__proto__" is not exposed',
  );
  assertLookupError(
    router,
    "sub/constructor",
    '"Sub.constructor" is not exposed',
  );
  assertLookupError(
    router,
    "__proto__/add",
    'Name "__proto__" not found in ""',
  );
  assertLookupError(
    router,
    "constructor/name",
    'Name "constructor" not found in ""',
  );
  assertLookupError(router, "toString/call", 'Name "toString" not found in ""');
  assertLookupError(
    router,
    "add/call",
    '"MathServer.add" is a function, not a service: cannot call "add/call"',
  );
  assertLookupError(
    router,
    "add/constructor",
    '"MathServer.add" is a function, not a service: cannot call "add/constructor"',
  );
});

Deno.test("service: a getter is refused and never runs", () => {
  const server = new MathServer();
  const router = Service.of(server);
  assertLookupError(router, "value", '"MathServer.value" is not exposed');
  assertLookupError(router, "value/x", 'Name "value" not found in ""');
  // Finding the path of a sub-service walks the members without getters.
  assert.equal(router.pathOf(server.sub), "sub");
  assert.equal(router.pathOf(new Sub()), undefined);
  assert.equal(server.getterRuns, 0);
});

Deno.test("service: empty path parts and paths through functions", () => {
  const router = Service.of(new MathServer());
  assertLookupError(router, "", 'Name "" not found in ""');
  assertLookupError(router, "/add", 'Name "" not found in ""');
  assertLookupError(
    router,
    "add/",
    '"MathServer.add" is a function, not a service: cannot call "add/"',
  );
  assertLookupError(router, "sub//mul", 'Name "" not found in "sub"');
  assertLookupError(router, "sub/", 'Name "" not found in "sub"');
  assertLookupError(router, "//", 'Name "" not found in ""');
  assertLookupError(
    router,
    "add/x",
    '"MathServer.add" is a function, not a service: cannot call "add/x"',
  );
  assertLookupError(
    router,
    "sub/mul/x",
    '"Sub.mul" is a function, not a service: cannot call "sub/mul/x"',
  );
});
