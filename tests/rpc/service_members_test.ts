// Exposure beyond methods: ServiceDict, pathOf, exposed fields (functions
// and sub-services), and what expose refuses.
import assert from "node:assert/strict";
import { expose, Service, ServiceDict } from "../../rpc/mod.ts";
import { MathServer, Sub } from "./_service_math_server.ts";
import { assertLookupError, call } from "./_service_assert.ts";

Deno.test("service: ServiceDict exposes its functions and nested dicts", async () => {
  const server = new MathServer();
  let thisArg: unknown = "unset";
  const dict = new ServiceDict({
    add: (a: number, b: number) => a + b,
    asyncAdd: async (a: number, b: number) => {
      await Promise.resolve();
      return a + b;
    },
    whoAmI: function (this: unknown) {
      thisArg = this;
      return "ok";
    },
    sub: new ServiceDict({
      neg: (x: number) => -x,
      deeper: new ServiceDict({ twice: (x: number) => 2 * x }),
    }),
    math: server,
    // Not a function or a service: present but not callable.
    n: 42 as unknown as object,
  });
  assert.equal(await call(dict, "add", 3, 4), 7);
  assert.equal(await call(dict, "asyncAdd", 3, 4), 7);
  assert.equal(await call(dict, "sub/neg", 5), -5);
  assert.equal(await call(dict, "sub/deeper/twice", 5), 10);
  assert.equal(await call(dict, "math/add", 1, 2), 3);
  assert.equal(await call(dict, "math/sub/mul", 6, 7), 42);
  assert.equal(await call(dict, "whoAmI"), "ok");
  assert.equal(thisArg, undefined);
  assert.equal(dict.resolve("add").qualname, "add");
  assertLookupError(dict, "nope", 'Name "nope" not found in ""');
  assertLookupError(dict, "sub/nope", 'Name "nope" not found in "sub"');
  assertLookupError(
    dict,
    "sub/deeper/nope",
    'Name "nope" not found in "sub/deeper"',
  );
  assertLookupError(dict, "nope/x", 'Name "nope" not found in ""');
  assertLookupError(dict, "math/secret", '"MathServer.secret" is not exposed');
  assertLookupError(dict, "n", '"n" is not exposed');
  assertLookupError(dict, "n/x", 'Name "n" not found in ""');
  assertLookupError(
    dict,
    "add/x",
    '"add" is a function, not a service: cannot call "add/x"',
  );
  // Only the dictionary's own entries exist.
  for (
    const name of ["__proto__", "constructor", "toString", "hasOwnProperty"]
  ) {
    assertLookupError(dict, name, `Name "${name}" not found in ""`);
    assertLookupError(dict, `sub/${name}`, `Name "${name}" not found in "sub"`);
  }
  assertLookupError(dict, "", 'Name "" not found in ""');
  assertLookupError(dict, "sub//neg", 'Name "" not found in "sub"');
  assert.equal(dict.pathOf(dict), "");
  assert.equal(dict.pathOf(server.sub), "math/sub");
  assert.equal(server.getterRuns, 0);
});

Deno.test("service: pathOf finds sub-services by the router or the object", () => {
  const server = new MathServer();
  const router = Service.of(server);
  assert.equal(router.pathOf(server), "");
  assert.equal(router.pathOf(router), "");
  assert.equal(router.pathOf(server.sub), "sub");
  assert.equal(router.pathOf(Service.of(server.sub)), "sub");
  assert.equal(router.pathOf(server.tools), "tools");
  assert.equal(router.pathOf(server.hidden), undefined);
  assert.equal(router.pathOf({}), undefined);
});

Deno.test("service: expose refuses what is neither a method, a field nor a function", () => {
  assert.throws(
    () => expose(42 as unknown as () => void, {}),
    { name: "TypeError", message: /^Cannot expose/ },
  );
  const fn = (a: number) => a;
  assert.equal(expose(fn), fn);
  const dict = new ServiceDict({ fn });
  assert.deepEqual(dict.resolve("fn").options, { params: undefined });
  // Exposing again (here: adding params) replaces what was recorded.
  assert.equal(expose(fn, { params: ["a"] }), fn);
  assert.deepEqual(dict.resolve("fn").options, { params: ["a"] });
});

Deno.test("service: an exposed field holding a function is an exposed function, with its options", async () => {
  class Calc {
    factor = 10;
    @expose
    add = (a: number, b: number): number => a + b;
    @expose({ params: ["a", "b"] })
    scaled = function (this: Calc, a: number, b = 1): number {
      return this.factor * a * b;
    };
    @expose
    sub = { value: 1 };
    plain = (): number => 0;
  }
  const router = Service.of(new Calc());
  assert.equal(await call(router, "add", 3, 4), 7);
  const scaled = router.resolve("scaled");
  assert.deepStrictEqual(scaled.options.params, ["a", "b"]);
  assert.equal(scaled.qualname, "Calc.scaled");
  assert.equal(await call(router, "scaled", 2), 20);
  // Only marked fields: an unmarked function field stays out of reach.
  assertLookupError(router, "plain", '"Calc.plain" is not exposed');
  // A field holding an object is still a sub-service, not a function.
  assertLookupError(router, "sub", '"Calc.sub" is not exposed');
  // Deleted, an exposed field exposes nothing of its name further up.
  class Base {
    add(): string {
      return "the prototype's, never exposed";
    }
  }
  class Shadowing extends Base {
    @expose
    override add = (): string => "the field's";
  }
  const shadowing = new Shadowing();
  const shadowed = Service.of(shadowing);
  assert.equal(await call(shadowed, "add"), "the field's");
  delete (shadowing as { add?: unknown }).add;
  assertLookupError(shadowed, "add", '"Base.add" is not exposed');
});

Deno.test("service: sub-service fields work in a class with no exposed method, and in a subclass", async () => {
  // Deno runs a field decorator's addInitializer only beside a decorated
  // method (denoland/deno#22962): these classes have none.
  class Root {
    @expose
    math = new Sub();
  }
  class Derived extends Root {
    @expose
    more = new Sub();
  }
  for (const router of [Service.of(new Root()), Service.of(new Derived())]) {
    assert.equal(await call(router, "math/mul", 6, 7), 42);
  }
  assert.equal(await call(Service.of(new Derived()), "more/mul", 2, 3), 6);
});

Deno.test("service: a method bound in the constructor stays exposed, with its options; other functions shadowing an exposed method stay hidden", async () => {
  function purge(): string {
    return "module function";
  }
  const store = new (class Store {
    @expose
    purge(): string {
      return "another object's";
    }
  })();
  const named = (): string => "closure";
  Object.defineProperty(named, "name", { value: "bound renamed" });
  class Bound {
    factor = 3;
    constructor() {
      this.times = this.times.bind(this);
      this.secret = this.secret.bind(this);
      this.swapped = this.times;
      this.purge = purge.bind(this);
      this.other = store.purge.bind(store);
      this.renamed = named;
      this.partial = this.partial.bind(this, 1);
    }
    @expose({ params: ["x"] })
    times(x: number): number {
      return this.factor * x;
    }
    @expose({ context: true })
    swapped(x: number): number {
      return x;
    }
    @expose
    purge(): string {
      return "own";
    }
    @expose
    other(): string {
      return "own";
    }
    @expose
    renamed(): string {
      return "own";
    }
    @expose
    partial(a: number, b: number): number {
      return a + b;
    }
    secret(): string {
      return "hidden";
    }
  }
  const service = Service.of(new Bound());
  assert.equal(await call(service, "times", 2), 6);
  assert.equal(service.resolve("times").qualname, "Bound.times");
  assert.deepEqual(service.resolve("times").options, { params: ["x"] });
  // Not a bound method of its own name, this object, no arguments: hidden.
  for (const name of ["swapped", "purge", "other", "renamed", "partial"]) {
    assertLookupError(service, name, `"Bound.${name}" is not exposed`);
  }
  assertLookupError(service, "secret", '"Bound.secret" is not exposed');
});

Deno.test("service: expose keeps a function's own bind", () => {
  const handler = Object.assign((x: number) => x, {
    bind(context: string) {
      return (x: number) => `${context}:${x}`;
    },
  });
  expose(handler);
  assert.equal(handler.bind("ctx")(1), "ctx:1");
  class Exposed {
    @expose
    m(): void {}
  }
  assert.equal(Exposed.prototype.m.bind.name, "bind");
});
