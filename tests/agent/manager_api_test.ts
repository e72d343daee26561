// The Manager's own calls: it is agent 0, spawn builds agents from specs (also
// as seen on the wire), set_time drives an ExternalClock, stop shuts down.
import assert from "node:assert/strict";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { Container, ExternalClock, Manager } from "../../agent/mod.ts";
import { JsonCodec } from "../../codecs/mod.ts";
import { ConnectionClosedError } from "../../errors.ts";
import { Echo, Sleeper } from "../fixtures/agents/agents.ts";
import {
  AGENTS_URL,
  LOCAL,
  managed,
  remote,
  spawn,
  spec,
} from "./_manager_fixtures.ts";
import { frame, FrameReader, writeAll } from "./_wire.ts";

const START = "2016-01-01T00:00:00+00:00";

class Point {
  constructor(public x: number, public y: number) {}
}

function portOf(addr: string): number {
  const match = /^tcp:\/\/127\.0\.0\.1:(\d+)\/$/.exec(addr);
  assert.ok(match, `not a TCP container address: ${addr}`);
  return Number(match[1]);
}

Deno.test("Manager is agent 0 and prints like an agent", async () => {
  await using container = await Container.create("local://manager-print");
  const manager = new Manager(container);
  assert.equal(manager.aid, "0");
  assert.equal(String(manager), "Manager('local://manager-print/0')");
});

Deno.test("Manager.spawn creates an agent from '<module URL>#<Export>' with its arguments", async () => {
  await using m = await managed();
  const [agent, addr] = await spawn(m.proxy, spec("Echo"), "hi:");
  assert.equal(addr, `${m.container.addr}1`);
  // The reference arrives as a proxy of that agent, on the same connection.
  assert.equal(String(agent), `AgentProxy('${m.container.addr}1')`);
  assert.equal(await agent.echo(42), "hi:42");
  const spawned = m.container.agents.get("1");
  assert.ok(spawned instanceof Echo);
  assert.equal(spawned.prefix, "hi:");
  // Ids go on; the address is an ordinary agent address.
  const [, second] = await spawn(m.proxy, spec("Echo"));
  assert.equal(second, `${m.container.addr}2`);
  const byAddr = await m.master.connect<Echo>(second);
  assert.equal(String(byAddr), `EchoProxy('${second}')`);
  assert.equal(await byAddr.echo("x"), "x");
});

Deno.test("Manager.spawn called in its own container returns a local proxy", async () => {
  await using container = await Container.create("local://manager-self");
  const manager = new Manager(container);
  const proxy = await container.connect<Manager>(manager.addr);
  const [agent, addr] = await spawn(proxy, spec("Echo"), ">");
  assert.equal(addr, "local://manager-self/1");
  assert.equal(String(agent), "EchoProxy('local://manager-self/1')");
  assert.equal(await agent.echo(1), ">1");
});

for (
  const [label, serializers, refTypeid] of [
    ["no extra serializers", [], 1],
    ["one extra serializer", [
      [
        Point,
        (p: Point) => [p.x, p.y],
        (d: unknown) => new Point(...(d as [number, number])),
      ] as const,
    ], 2],
  ] as const
) {
  Deno.test(`Manager.spawn replies [agent reference, address] on the wire (${label})`, async () => {
    await using container = await Container.create(LOCAL, { serializers });
    new Manager(container);
    const port = portOf(container.addr);
    // Play a Python master by hand.
    using conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const reader = new FrameReader(conn);
    const codec = new JsonCodec();
    await writeAll(
      conn,
      frame(
        await codec.encode([0, 0, ["agents/0/spawn", [spec("Echo"), "p"], {}]]),
      ),
    );
    const reply = new TextDecoder().decode((await reader.read())!);
    // aiomas's Manager answers `[1, id, [{"__type__": [1, "agents/1"]}, addr]]`;
    // the reference's typeid comes after the date serializer and the extras.
    assert.equal(
      reply,
      `[1,0,[{"__type__":[${refTypeid},"agents/1"]},"tcp://127.0.0.1:${port}/1"]]`,
    );
    // The reference is callable at its path on this connection.
    await writeAll(
      conn,
      frame(await codec.encode([0, 1, ["agents/1/echo", [7], {}]])),
    );
    assert.deepEqual(
      await codec.decode((await reader.read())!),
      [1, 1, "p7"],
    );
  });
}

Deno.test("Manager.spawn resolves relative modules from its base, by default the working directory", async () => {
  {
    await using m = await managed({
      base: new URL("../fixtures/agents/", import.meta.url).href,
    });
    const [agent] = await spawn(m.proxy, "./agents.ts#Echo", "b:");
    assert.equal(await agent.echo(1), "b:1");
  }
  {
    await using m = await managed();
    const fromCwd = relative(Deno.cwd(), fileURLToPath(AGENTS_URL));
    const [agent] = await spawn(m.proxy, `${fromCwd}#Echo`, "c:");
    assert.equal(await agent.echo(1), "c:1");
  }
});

Deno.test("Manager.spawn with a bad spec answers with a clear error and keeps working", async () => {
  await using m = await managed();
  const missing = new URL("./no_such_module.ts", AGENTS_URL).href;
  for (
    const [bad, name, message] of [
      [
        AGENTS_URL.href,
        "TypeError",
        /Invalid agent spec .*"<module>#<ExportName>"/,
      ],
      [`${AGENTS_URL.href}#`, "TypeError", /Invalid agent spec/],
      ["#Echo", "TypeError", /Invalid agent spec/],
      [42, "TypeError", /Invalid agent spec 42/],
      [spec("Nope"), "TypeError", /has no export "Nope"/],
      [spec("NotAnAgent"), "TypeError", /"NotAnAgent" is not an Agent class/],
      [spec("notAClass"), "TypeError", /"notAClass" is not an Agent class/],
      [`${missing}#Echo`, "TypeError", /there is no module file at "file:/],
      // The constructor's own error.
      [spec("Broken"), "RangeError", /^Broken cannot be built$/],
    ] as const
  ) {
    await assert.rejects(spawn(m.proxy, bad as string), remote(name, message));
  }
  // Broken's super() registered it before the throw: it is not kept.
  assert.deepEqual([...m.container.agents.keys()], ["0"]);
  const [agent] = await spawn(m.proxy, spec("Echo"), "ok:");
  assert.equal(await agent.echo(1), "ok:1");
});

Deno.test("Manager.set_time advances an ExternalClock and wakes the sleepers", async () => {
  const clock = new ExternalClock(START);
  await using m = await managed({ clock });
  const [sleeper] = await spawn(m.proxy, spec("Sleeper"));
  // Both sleeps are registered before set_time runs: one connection
  // delivers requests in order and each handler starts at once.
  const early = sleeper.sleep(1);
  const late = sleeper.sleep(3);
  assert.equal(await m.proxy.set_time(2), null);
  assert.deepEqual(await early, [2, "2016-01-01T00:00:02.000Z"]);
  assert.equal(clock.time(), 2);
  assert.equal(clock.nextActivity(), 3);
  await m.proxy.set_time(3.5);
  assert.deepEqual(await late, [3.5, "2016-01-01T00:00:03.500Z"]);
  assert.equal(await sleeper.time(), 3.5);
  assert.ok(m.container.agents.get("1") instanceof Sleeper);
});

Deno.test("Manager.set_time refuses the past and a realtime clock", async () => {
  {
    const clock = new ExternalClock(START);
    await using m = await managed({ clock });
    await m.proxy.set_time(5);
    await assert.rejects(m.proxy.set_time(5), remote("RangeError", /later/));
    await assert.rejects(m.proxy.set_time(1), remote("RangeError", /later/));
    // A peer's non-number would be compared and added as text.
    for (const time of ["soon", "7", [7], null]) {
      await assert.rejects(
        m.proxy.set_time(time as unknown as number),
        remote("TypeError", /^Cannot set time to .* not a number$/),
      );
    }
    assert.equal(clock.time(), 5);
  }
  {
    await using m = await managed();
    await assert.rejects(
      m.proxy.set_time(5),
      remote("TypeError", /not an ExternalClock/),
    );
  }
});

Deno.test("Manager.stop twice shuts down and calls onStop once", async () => {
  let stops = 0;
  const stopped = Promise.withResolvers<void>();
  const container = await Container.create(LOCAL);
  const manager = new Manager(container, {
    onStop: () => {
      stops++;
      stopped.resolve();
    },
  });
  manager.stop();
  manager.stop();
  await stopped.promise;
  // A second run would call onStop right after the first one's shutdown.
  await container.shutdown();
  await container.shutdown();
  assert.equal(stops, 1);
});

Deno.test("Manager: an onStop that throws is logged, not an unhandled rejection", async () => {
  const logged = Promise.withResolvers<unknown[]>();
  const error = console.error;
  console.error = (...args: unknown[]) => logged.resolve(args);
  try {
    const container = await Container.create(LOCAL);
    const manager = new Manager(container, {
      onStop: () => {
        throw new Error("onStop failed");
      },
    });
    manager.stop();
    const [text, thrown] = await logged.promise;
    assert.equal(text, "aiomas: onStop threw:");
    assert.equal((thrown as Error).message, "onStop failed");
  } finally {
    console.error = error;
  }
});

Deno.test("Manager.stop answers, then shuts the container down and calls onStop", async () => {
  await using m = await managed();
  const [agent] = await spawn(m.proxy, spec("Echo"));
  assert.equal(await m.proxy.stop(), null);
  await m.stopped;
  // Shut down: no new agents, no connects, the port is closed.
  assert.throws(() => new Echo(m.container), ConnectionClosedError);
  await assert.rejects(
    m.container.connect(m.manager.addr),
    ConnectionClosedError,
  );
  await assert.rejects(agent.echo(1), ConnectionClosedError);
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port: portOf(m.container.addr) }),
    Deno.errors.ConnectionRefused,
  );
});
