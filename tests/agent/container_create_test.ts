// Container.create: TCP, Unix socket and local:// addresses, and the address
// forms that are refused.
import assert from "node:assert/strict";
import { within } from "../_within.ts";
import { Container } from "../../agent/mod.ts";
import type { SerializerSpec } from "../../codecs/mod.ts";
import { ConnectionClosedError } from "../../errors.ts";
import {
  Callee,
  Caller,
  LOCAL,
  portOf,
  withTempDir,
} from "./_container_fixtures.ts";

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
    // A reference names the agent's address (it read 'local1').
    const described = await proxy.describe(caller) as { text: string };
    assert.equal(described.text, `AgentProxy('${caller.addr}')`);
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

Deno.test("Container.connect with retry waits for a local:// container created meanwhile; shutdown stops the wait", async () => {
  await using a = await Container.create("local://retry-caller");
  const retried = a.connect<Callee>("local://retry-late/0", { retry: true });
  // Joins the same dial without retry: it fails at the first refusal.
  await assert.rejects(
    within(5000, "the first refusal", a.connect("local://retry-late/0")),
    {
      name: "ConnectionClosedError",
      message: /No container at local:\/\/retry-late\//,
    },
  );
  await using b = await Container.create("local://retry-late");
  new Callee(b);
  const proxy = await within(5000, "the retried connect", retried);
  assert.equal(await proxy.service(7), 7);
  // A dial that waits for a container that never comes ends at shutdown.
  const never = a.connect("local://retry-never/0", { retry: true });
  await assert.rejects(
    a.connect("local://retry-never/0"),
    ConnectionClosedError,
  );
  await a.shutdown();
  await assert.rejects(within(5000, "the stopped connect", never));
});

Deno.test("Container.create with serializers its codec refuses takes nothing: the local name is free afterwards", async () => {
  class Point {
    constructor(readonly x = 0) {}
  }
  const twice: SerializerSpec = [
    Point,
    (p: Point) => p.x,
    (x: unknown) => new Point(x as number),
  ];
  for (const serializers of [[twice, twice], [[Point, "nope", "nope"]]]) {
    await assert.rejects(
      Container.create("local://create-refused", {
        serializers: serializers as SerializerSpec[],
      }),
      TypeError,
    );
  }
  await using container = await Container.create("local://create-refused");
  assert.equal(container.addr, "local://create-refused/");
});
