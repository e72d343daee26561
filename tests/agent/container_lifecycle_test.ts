// The life of agents and containers: agent ids, removal and printing, and what
// a container's shutdown stops.
import assert from "node:assert/strict";
import {
  Container,
  type DynamicRemote,
  ExternalClock,
  startContainerProcess,
  startContainerWorker,
} from "../../agent/mod.ts";
import { ConnectionClosedError, RemoteError } from "../../errors.ts";
import {
  Callee,
  Caller,
  isLookupError,
  LOCAL,
  Other,
  withTempDir,
} from "./_container_fixtures.ts";

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
    // One from another copy of the library: same name, another class.
    const Other = { Container: class Container {} };
    assert.throws(() => new Callee(new Other.Container() as never), {
      name: "TypeError",
      message:
        "new Callee() takes a Container of the same copy of the library: this one comes from another (two versions or import paths of @aiomas/aiomas); import Agent and Container from one module",
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
