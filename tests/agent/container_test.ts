import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  Agent,
  Container,
  type DynamicRemote,
  ExternalClock,
  startContainerProcess,
  startContainerWorker,
} from "../../agent/mod.ts";
import { JsonCodec, MsgPackCodec } from "../../codecs/mod.ts";
import {
  ConnectionClosedError,
  RemoteError,
  SerializationError,
} from "../../errors.ts";
import { expose } from "../../rpc/mod.ts";
import { countingAccepts, FrameReader, textFrame, writeAll } from "./_wire.ts";

const LOCAL = { hostname: "127.0.0.1", port: 0 };
const DAY = 24 * 60 * 60 * 1000;

class Point {
  constructor(public x: number, public y: number) {}
}

class Caller extends Agent {
  @expose
  ping(): string {
    return "pong";
  }
}

class Callee extends Agent {
  /** Resolved when `wait` was entered; `gate` lets it return. */
  entered = Promise.withResolvers<void>();
  gate = Promise.withResolvers<void>();
  /** What `keep` received, to check that the caller's value is not shared. */
  kept: unknown;

  @expose
  service(value: unknown): unknown {
    return value;
  }

  @expose
  // `caller` is typed as callers pass it (an agent); it arrives as a proxy.
  async call_me_back(caller: Agent, date: Date): Promise<unknown[]> {
    const proxy = caller as unknown as DynamicRemote;
    return [await proxy.ping(), new Date(date.getTime() + DAY)];
  }

  @expose
  describe(value: unknown): unknown {
    return {
      text: String(value),
      type: typeof value,
      isAgent: value instanceof Agent,
      isDate: value instanceof Date,
      isPoint: value instanceof Point,
    };
  }

  @expose
  keep(value: { x: number; list: number[] }): { x: number; list: number[] } {
    this.kept = value;
    value.x = 99;
    value.list.push(4);
    return value;
  }

  @expose
  fail(message: string): never {
    throw new RangeError(message);
  }

  @expose
  unsendable(): unknown {
    return { callback: () => {} };
  }

  @expose
  self(): unknown {
    return this;
  }

  @expose
  repeat(text: string, count: number): string {
    return text.repeat(count);
  }

  @expose
  async wait(): Promise<string> {
    this.entered.resolve();
    await this.gate.promise;
    return "done";
  }
}

class Other extends Agent {
  @expose
  service(value: unknown): unknown {
    return ["other", value];
  }
}

/** A JSON codec that counts what every instance encodes. */
class CountingCodec extends JsonCodec {
  static encodes = 0;

  override encode(value: unknown): Uint8Array {
    CountingCodec.encodes++;
    return super.encode(value);
  }
}

function portOf(addr: string): number {
  const match = /^tcp:\/\/127\.0\.0\.1:(\d+)\/$/.exec(addr);
  assert.ok(match, `not a TCP container address: ${addr}`);
  return Number(match[1]);
}

/** A port nothing listens on: listen on port 0, then close. */
function freePort(): number {
  const listener = Deno.listen(LOCAL);
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "aiomas-agent-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function readTls(name: string): string {
  return Deno.readTextFileSync(
    fileURLToPath(new URL(`../fixtures/tls-agent/${name}`, import.meta.url)),
  );
}

const isLookupError = (aid: string) => (error: unknown) => {
  assert.ok(error instanceof Error);
  assert.equal(error.name, "LookupError");
  assert.ok(error.message.includes(`"${aid}"`), error.message);
  return true;
};

// --- Creating containers ------------------------------------------------------

Deno.test("Container.create over TCP reports the real port", async () => {
  await using container = await Container.create(LOCAL);
  const port = portOf(container.addr);
  assert.notEqual(port, 0);
  assert.equal(String(container), `Container('${container.addr}')`);
  // Something really listens there.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.close();
  // Other address forms.
  await using byTuple = await Container.create(["127.0.0.1", 0]);
  assert.notEqual(portOf(byTuple.addr), 0);
  await assert.rejects(
    Container.create({ hostname: "127.0.0.1", port }),
    Deno.errors.AddrInUse,
  );
});

Deno.test("Container.create on a Unix socket has an ipc address", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/agents.sock`;
    {
      await using server = await Container.create(`unix:${path}`);
      assert.equal(server.addr, `ipc://[${path}]/`);
      const callee = new Callee(server);
      assert.equal(callee.addr, `ipc://[${path}]/0`);
      await using client = await Container.create(LOCAL);
      const proxy = await client.connect<Callee>(callee.addr);
      assert.equal(await proxy.service("over ipc"), "over ipc");
      // The brackets may be left out.
      const again = await client.connect<Callee>(`ipc://${path}/0`);
      assert.deepEqual(await again.service([1]), [1]);
    }
    // The socket file is removed at shutdown.
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
  });
});

Deno.test('Container.create: "host:port" is TCP, never a socket file', async () => {
  for (
    const addr of ["127.0.0.1:0", "tcp://127.0.0.1:0", "tcp://127.0.0.1:0/"]
  ) {
    await using container = await Container.create(addr);
    assert.notEqual(portOf(container.addr), 0, addr);
    await assert.rejects(Deno.lstat(addr), Deno.errors.NotFound, addr);
  }
  // A port taken is reported with its address.
  await using taken = await Container.create("127.0.0.1:0");
  await assert.rejects(
    Container.create(`127.0.0.1:${portOf(taken.addr)}`),
    Deno.errors.AddrInUse,
  );
});

Deno.test("Container.create: a Unix socket is written unix:/path or { path }; other forms are a TypeError", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/a.sock`;
    {
      await using container = await Container.create({ path });
      assert.equal(container.addr, `ipc://[${path}]/`);
    }
    // A bare path is refused, with the way to write it.
    await assert.rejects(Container.create(path), (error) => {
      assert.ok(error instanceof TypeError);
      assert.ok(error.message.includes(JSON.stringify(path)), error.message);
      assert.ok(error.message.includes(`"unix:${path}"`), error.message);
      assert.ok(error.message.includes('"host:port"'), error.message);
      assert.ok(error.message.includes('"local://<name>"'), error.message);
      return true;
    });
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
  });
  for (
    const bad of [
      "127.0.0.1",
      "udp://127.0.0.1:5555",
      "127.0.0.1:http",
      "::1:5555",
      42,
      null,
      { hostname: "127.0.0.1" },
    ]
  ) {
    await assert.rejects(
      Container.create(bad as never),
      { name: "TypeError", message: /Invalid address .*accepted forms/ },
      String(bad),
    );
  }
});

Deno.test("Container.create with local:// names", async () => {
  {
    await using a = await Container.create("local://container-test-a");
    await using b = await Container.create("local://container-test-b/");
    assert.equal(a.addr, "local://container-test-a/");
    assert.equal(b.addr, "local://container-test-b/");
    await assert.rejects(
      Container.create("local://container-test-a"),
      { name: "TypeError", message: /exists already/ },
    );
    const callee = new Callee(b);
    assert.equal(callee.addr, "local://container-test-b/0");
    const proxy = await a.connect<Callee>(callee.addr);
    assert.equal(String(proxy), `CalleeProxy('${callee.addr}')`);
    assert.equal(await proxy.service(42), 42);
    // References and dates work over the in-memory transport too.
    const caller = new Caller(a);
    const [pong, date] = await proxy.call_me_back(
      caller,
      new Date("2016-01-01T00:00:00Z"),
    ) as [string, Date];
    assert.equal(pong, "pong");
    assert.equal(date.toISOString(), "2016-01-02T00:00:00.000Z");
    await assert.rejects(
      a.connect("local://container-test-nobody/0"),
      ConnectionClosedError,
    );
  }
  // The names are free again after shutdown.
  await using again = await Container.create("local://container-test-a");
  assert.equal(again.addr, "local://container-test-a/");
  for (const bad of ["local://", "local:///", "local://a/b"]) {
    await assert.rejects(Container.create(bad), TypeError, bad);
  }
});

// --- Agents -------------------------------------------------------------------

Deno.test("An agent given a Promise of a container says that await is missing", async () => {
  const pending = Container.create(LOCAL);
  try {
    assert.throws(() => new Callee(pending as never), {
      name: "TypeError",
      message:
        "new Callee() takes a Container, not a Promise: did you forget `await` on Container.create(...)?",
    });
    assert.throws(() => new Callee({} as never), {
      name: "TypeError",
      message: "new Callee() takes a Container, got an Object",
    });
    assert.throws(() => new Callee(undefined as never), {
      name: "TypeError",
      message: "new Callee() takes a Container, got undefined",
    });
    // As where a container is started from one.
    await assert.rejects(
      startContainerWorker({ container: pending as never }),
      {
        name: "TypeError",
        message:
          /^startContainerWorker\(\) takes a Container, not a Promise: did you forget `await`/,
      },
    );
    await assert.rejects(
      startContainerProcess({ container: pending as never }),
      {
        name: "TypeError",
        message:
          /^startContainerProcess\(\) takes a Container, not a Promise: did you forget `await`/,
      },
    );
  } finally {
    await (await pending).shutdown();
  }
});

Deno.test("Agent ids count up and are never reused", async () => {
  await using container = await Container.create(LOCAL);
  const agents = [
    new Callee(container),
    new Caller(container),
    new Callee(container),
  ];
  assert.deepEqual(agents.map((a) => a.aid), ["0", "1", "2"]);
  assert.deepEqual(
    agents.map((a) => a.addr),
    ["0", "1", "2"].map((aid) => container.addr + aid),
  );
  assert.equal(container.agents.get("1"), agents[1]);
  assert.equal(container.removeAgent(agents[1]), true);
  assert.equal(container.removeAgent(agents[1]), false);
  assert.equal(container.removeAgent("1"), false);
  assert.equal(new Other(container).aid, "3");
  assert.equal(container.removeAgent("3"), true);
  assert.equal(new Other(container).aid, "4");
  assert.deepEqual([...container.agents.keys()], ["0", "2", "4"]);
  // An agent of another container is not removed by its aid.
  await using other = await Container.create(LOCAL);
  const stranger = new Callee(other);
  assert.equal(stranger.aid, "0");
  assert.equal(container.removeAgent(stranger), false);
  assert.equal(container.agents.get("0"), agents[0]);
});

Deno.test("A removed agent cannot be connected to or called", async () => {
  await using a = await Container.create(LOCAL);
  await using b = await Container.create(LOCAL);
  const remote = new Callee(b);
  const local = new Callee(a);
  const remoteProxy = await a.connect<Callee>(remote.addr);
  const localProxy = await a.connect<Callee>(local.addr);
  // Called once before: what a container remembers of a call path goes
  // with the agent.
  assert.equal(await remoteProxy.service(1), 1);
  assert.equal(await localProxy.service(1), 1);
  b.removeAgent(remote);
  a.removeAgent(local);
  for (const proxy of [remoteProxy, localProxy]) {
    await assert.rejects(proxy.service(1), (error: unknown) => {
      assert.ok(error instanceof RemoteError);
      assert.equal(error.remoteName, "LookupError");
      return true;
    });
  }
  await assert.rejects(a.connect(local.addr), isLookupError("0"));
  // Over the connection that found the agent before, as over a new one.
  await assert.rejects(a.connect(remote.addr), isLookupError("0"));
  await using c = await Container.create(LOCAL);
  await assert.rejects(c.connect(remote.addr), isLookupError("0"));
});

Deno.test("Agents and proxies print as aiomas prints them", async () => {
  await using a = await Container.create(LOCAL);
  await using b = await Container.create(LOCAL);
  const callee = new Callee(b);
  assert.equal(String(callee), `Callee('${b.addr}0')`);
  assert.equal(`${new Caller(a)}`, `Caller('${a.addr}0')`);
  const remote = await a.connect(callee.addr);
  assert.equal(String(remote), `CalleeProxy('${callee.addr}')`);
  const local = await b.connect(callee.addr);
  assert.equal(String(local), `CalleeProxy('${callee.addr}')`);
  // A returned agent reference is named after its container's address.
  const self = await remote.self() as DynamicRemote;
  assert.equal(String(self), `AgentProxy('${callee.addr}')`);
});

// --- connect ------------------------------------------------------------------

Deno.test("connect: one connection per peer container, shared by its agents", async () => {
  const { value: peer, accepted } = await countingAccepts(() =>
    Container.create(LOCAL)
  );
  await using _peer = peer;
  await using a = await Container.create(LOCAL);
  const first = new Callee(peer);
  const second = new Other(peer);
  const p1 = await a.connect<Callee>(first.addr);
  const p2 = await a.connect<Other>(second.addr);
  assert.deepEqual(
    await Promise.all([p1.service(1), p2.service(2), p1.service(3)]),
    [1, ["other", 2], 3],
  );
  // Agents of `a` share it as well.
  new Caller(a);
  const again = await a.connect<Callee>(first.addr);
  assert.equal(await again.service(4), 4);
  assert.equal(accepted(), 1);
  // Another container has its own connection.
  await using c = await Container.create(LOCAL);
  const fromC = await c.connect<Callee>(first.addr);
  assert.equal(await fromC.service(5), 5);
  assert.equal(accepted(), 2);
});

Deno.test("connect: concurrent connects to one container share one attempt", async () => {
  const { value: peer, accepted } = await countingAccepts(() =>
    Container.create(LOCAL)
  );
  await using _peer = peer;
  await using a = await Container.create(LOCAL);
  const callees = [new Callee(peer), new Other(peer), new Callee(peer)];
  const proxies = await Promise.all(
    [0, 1, 2, 0, 1, 2].map((i) => a.connect(callees[i].addr)),
  );
  assert.deepEqual(
    proxies.map(String),
    ["Callee", "Other", "Callee", "Callee", "Other", "Callee"].map((name, i) =>
      `${name}Proxy('${callees[i % 3].addr}')`
    ),
  );
  assert.deepEqual(
    await Promise.all(proxies.map((proxy) => proxy.service("x"))),
    ["x", ["other", "x"], "x", "x", ["other", "x"], "x"],
  );
  assert.equal(accepted(), 1);
});

Deno.test("connect: every spelling of a container address shares the connection", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/peer.sock`;
    const { value: peer, accepted } = await countingAccepts(() =>
      Container.create({ path })
    );
    await using _peer = peer;
    await using a = await Container.create(LOCAL);
    new Callee(peer);
    const bracketed = await a.connect<Callee>(`ipc://[${path}]/0`);
    const bare = await a.connect<Callee>(`ipc://${path}/0`);
    assert.deepEqual(
      await Promise.all([bracketed.service(1), bare.service(2)]),
      [1, 2],
    );
    assert.equal(accepted(), 1);
  });
});

Deno.test("connect: a missing agent is a LookupError naming the aid", async () => {
  await using a = await Container.create(LOCAL);
  await using b = await Container.create(LOCAL);
  new Callee(b);
  await assert.rejects(a.connect(`${b.addr}5`), isLookupError("5"));
  await assert.rejects(a.connect(`${a.addr}0`), isLookupError("0"));
  // The connection stays usable.
  const proxy = await a.connect<Callee>(`${b.addr}0`);
  assert.equal(await proxy.service("ok"), "ok");
  // Malformed addresses are a TypeError.
  await assert.rejects(a.connect("tcp://127.0.0.1/0"), TypeError);
});

Deno.test("connect: nobody listening rejects", async () => {
  await using a = await Container.create(LOCAL);
  await assert.rejects(
    a.connect(`tcp://127.0.0.1:${freePort()}/0`),
    Deno.errors.ConnectionRefused,
  );
  await withTempDir(async (dir) => {
    const path = `${dir}/later.sock`;
    await assert.rejects(a.connect(`ipc://[${path}]/0`), Deno.errors.NotFound);
    // A failed attempt is not kept: once the peer exists, connect dials again.
    await using b = await Container.create({ path });
    new Callee(b);
    const proxy = await a.connect<Callee>(`ipc://[${path}]/0`);
    assert.equal(await proxy.service(1), 1);
  });
});

Deno.test("connect: after the peer shuts down, the next connect dials again", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/peer.sock`;
    const url = `ipc://[${path}]/0`;
    await using a = await Container.create(LOCAL);
    const b = await Container.create(`unix:${path}`);
    const callee = new Callee(b);
    const proxy = await a.connect<Callee>(url);
    assert.equal(await proxy.service(1), 1);
    const pending = proxy.wait();
    await callee.entered.promise;
    const shutdown = b.shutdown();
    // A shutdown still answers the calls it is serving.
    callee.gate.resolve();
    assert.equal(await pending, "done");
    await shutdown;
    // Then the connection is gone: a call on the old proxy fails. (This is
    // also how the test knows that `a` has seen the connection end.)
    await assert.rejects(proxy.service(3), ConnectionClosedError);
    // The same path, a new container with another agent class at aid 0.
    await using b2 = await Container.create({ path });
    new Other(b2);
    const fresh = await a.connect<Other>(url);
    assert.equal(String(fresh), `OtherProxy('${url}')`);
    assert.deepEqual(await fresh.service(2), ["other", 2]);
    await assert.rejects(proxy.service(4), ConnectionClosedError);
  });
});

// --- References and dates -----------------------------------------------------

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

// --- Local calls --------------------------------------------------------------

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

// --- Shutdown -----------------------------------------------------------------

Deno.test("Shutdown: calls in flight reject, then nothing works", async () => {
  const a = await Container.create(LOCAL);
  await using b = await Container.create(LOCAL);
  const callee = new Callee(b);
  const own = new Callee(a);
  const proxy = await a.connect<Callee>(callee.addr);
  const local = await a.connect<Callee>(own.addr);
  const pending = proxy.wait();
  const outcome = assert.rejects(pending, ConnectionClosedError);
  await callee.entered.promise;
  const shutdown = a.shutdown();
  assert.equal(a.shutdown(), shutdown);
  await shutdown;
  await outcome;
  callee.gate.resolve();
  await a.shutdown();
  await a[Symbol.asyncDispose]();
  await assert.rejects(a.connect(callee.addr), ConnectionClosedError);
  await assert.rejects(a.connect(own.addr), ConnectionClosedError);
  await assert.rejects(proxy.service(1), ConnectionClosedError);
  await assert.rejects(local.service(1), ConnectionClosedError);
  assert.throws(() => new Callee(a), ConnectionClosedError);
  // The peer is unaffected.
  await using c = await Container.create(LOCAL);
  const fromC = await c.connect<Callee>(callee.addr);
  assert.equal(await fromC.service(2), 2);
});

Deno.test("Shutdown stops a connect that is still retrying", async () => {
  await withTempDir(async (dir) => {
    const a = await Container.create(LOCAL);
    const realConnect = Deno.connect;
    const refused = Promise.withResolvers<void>();
    Deno.connect = (async (options: Deno.ConnectOptions) => {
      try {
        return await realConnect(options);
      } catch (error) {
        refused.resolve();
        throw error;
      }
    }) as typeof Deno.connect;
    try {
      const connecting = a.connect(`ipc://[${dir}/nobody.sock]/0`, {
        retry: true,
      });
      const outcome = assert.rejects(connecting, ConnectionClosedError);
      await refused.promise;
      await a.shutdown();
      await outcome;
    } finally {
      Deno.connect = realConnect;
    }
  });
});

Deno.test("Shutdown cancels the timers of the clock it made, not of a given one", async () => {
  const own = await Container.create(LOCAL);
  const sleeping = own.clock.sleep(3600);
  const outcome = assert.rejects(sleeping, { name: "AbortError" });
  await own.shutdown();
  await outcome;

  const clock = new ExternalClock("2016-01-01T00:00:00+00:00");
  const given = await Container.create(LOCAL, { clock });
  assert.equal(given.clock, clock);
  const wake = clock.sleep(1);
  await given.shutdown();
  clock.setTime(1);
  await wake;
});

// --- TLS ----------------------------------------------------------------------

Deno.test("TLS containers: mutual TLS as in aiomas", async (t) => {
  const ca = readTls("ca.pem");
  const tls = {
    cert: readTls("container.pem"),
    key: readTls("container.key"),
    caCerts: [ca],
  };
  await using a = await Container.create(LOCAL, { tls });
  await using b = await Container.create(LOCAL, { tls });
  const callee = new Callee(b);
  const caller = new Caller(a);

  await t.step("calls, references and dates", async () => {
    const proxy = await a.connect<Callee>(callee.addr);
    assert.equal(await proxy.service("secret"), "secret");
    const [pong, date] = await proxy.call_me_back(caller, new Date(0)) as [
      string,
      Date,
    ];
    assert.equal(pong, "pong");
    assert.equal(date.getTime(), DAY);
  });

  await t.step(
    "a container that does not trust the CA cannot connect",
    async () => {
      await using stranger = await Container.create(LOCAL, {
        tls: { ...tls, caCerts: [readTls("other-ca.pem")] },
      });
      await assert.rejects(stranger.connect(callee.addr));
    },
  );

  await t.step(
    "a container with a certificate of another CA is refused",
    async () => {
      await using stranger = await Container.create(LOCAL, {
        tls: {
          cert: readTls("other.pem"),
          key: readTls("other.key"),
          caCerts: [ca],
        },
      });
      await assert.rejects(stranger.connect(callee.addr));
      // The refusal concerns that connection only.
      const proxy = await a.connect<Callee>(callee.addr);
      assert.equal(await proxy.service("still"), "still");
    },
  );

  await t.step("a client without a certificate is refused", async () => {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: portOf(b.addr),
      caCerts: [ca],
    });
    try {
      const reader = new FrameReader(conn);
      await writeAll(conn, textFrame('[0, 0, ["validate_aid", ["0"], {}]]'));
      await assert.rejects(reader.read());
    } finally {
      conn.close();
    }
  });

  await t.step("a container without TLS cannot connect", async () => {
    await using plain = await Container.create(LOCAL);
    await assert.rejects(plain.connect(callee.addr), ConnectionClosedError);
  });
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

Deno.test("containers with different codecs: connect fails with a message that says what it may be", async () => {
  await using json = await Container.create(LOCAL);
  await using msgpack = await Container.create(LOCAL, { codec: MsgPackCodec });
  const callee = new Callee(json);
  await assert.rejects(msgpack.connect(callee.addr), {
    name: "ConnectionClosedError",
    message:
      /^Connection (closed by|to) 127\.0\.0\.1:\d+ .*before it answered anything \(e.g. a peer with another codec than this side's MsgPackCodec closes at the first message\)$/,
  });
});

Deno.test("maxFrameSize: a call above it fails before it is sent, and the connection serves the other agents on", async () => {
  const options = { maxFrameSize: 64 * 1024 };
  await using a = await Container.create(LOCAL, options);
  await using b = await Container.create(LOCAL, options);
  const callee = new Callee(b);
  const other = new Callee(b);
  const proxy = await a.connect<Callee>(callee.addr);
  const otherProxy = await a.connect<Callee>(other.addr);
  const pending = otherProxy.service("in flight");
  await assert.rejects(proxy.service("x".repeat(100_000)), {
    name: "SerializationError",
    message: /above maxFrameSize \(65536 bytes\)/,
  });
  assert.equal(await pending, "in flight");
  assert.equal(await proxy.service("small"), "small");
  // A result above it: the callee's side refuses it, the caller gets an error reply.
  await assert.rejects(proxy.repeat("y", 100_000), {
    name: "RemoteError",
    remoteName: "SerializationError",
  });
  assert.equal(await otherProxy.service("still"), "still");
});

Deno.test("maxFrameSize: a value that is not a whole number from 1 up is a RangeError at create", async () => {
  for (const maxFrameSize of [0, -1, 1.5, NaN]) {
    await assert.rejects(
      Container.create(LOCAL, { maxFrameSize }),
      RangeError,
      "maxFrameSize",
    );
  }
});
