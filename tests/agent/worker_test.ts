// Containers in Workers. The first Worker of a run type-checks its module
// graph under `deno test` (seconds, once per code change: the result is
// cached, and later Workers of the same run reuse it).
import assert from "node:assert/strict";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import {
  Container,
  type DynamicRemote,
  startContainerProcess,
  startContainerWorker,
} from "../../agent/mod.ts";
import {
  type CodecClass,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";
import { ConnectionClosedError } from "../../errors.ts";
import { Echo } from "../fixtures/agents/agents.ts";
import { within } from "../_within.ts";

const LOCAL = { hostname: "127.0.0.1", port: 0 };
const AGENTS_URL = new URL("../fixtures/agents/agents.ts", import.meta.url);
const spec = (name: string) => `${AGENTS_URL.href}#${name}`;

/** Calls `spawn` through a manager proxy; the agent arrives as a proxy. */
async function spawn(
  manager: { spawn(spec: string, ...args: unknown[]): Promise<unknown> },
  spec: string,
  ...args: unknown[]
): Promise<[DynamicRemote, string]> {
  return await manager.spawn(spec, ...args) as [DynamicRemote, string];
}

Deno.test("startContainerWorker: spawn in a worker, calls from the parent and back", async () => {
  await using parent = await Container.create(LOCAL);
  const home = new Echo(parent, "parent:");
  await using worker = await startContainerWorker({ container: parent });
  assert.match(worker.addr, /^worker:\/\/w\d+\/$/);
  assert.equal(String(worker.manager), `ManagerProxy('${worker.addr}0')`);
  const [echo, echoAddr] = await spawn(worker.manager, spec("Echo"), "w:");
  assert.equal(echoAddr, `${worker.addr}1`);
  assert.equal(String(echo), `AgentProxy('${worker.addr}1')`);
  assert.equal(await echo.echo(1), "w:1");
  assert.equal(await echo.where(), worker.addr);
  await assert.rejects(echo.fail("no"), {
    name: "RemoteError",
    remoteName: "RangeError",
    remoteMessage: "no",
  });
  // By address too, over the same link.
  const byAddr = await parent.connect<Echo>(echoAddr);
  assert.equal(String(byAddr), `EchoProxy('${echoAddr}')`);
  assert.equal(await byAddr.echo(2), "w:2");
  // The worker calls the parent: a reference it was passed, and an address.
  const [relay] = await spawn(worker.manager, spec("Relay"));
  assert.equal(await relay.call(home, "echo", 3), "parent:3");
  assert.equal(await relay.call_addr(home.addr, "echo", 4), "parent:4");
  // The worker's own agents, through its own container.
  assert.equal(await relay.call_addr(echoAddr, "echo", 5), "w:5");
});

Deno.test("startContainerWorker: a worker in a local:// parent calls its sibling workers", async () => {
  await using parent = await Container.create("local://worker-parent");
  const home = new Echo(parent, "home:");
  await using first = await startContainerWorker({
    container: parent,
    name: "first",
  });
  await using second = await startContainerWorker({
    container: parent,
    name: "second",
  });
  assert.equal(first.addr, "worker://first/");
  assert.equal(second.addr, "worker://second/");
  const [echo1] = await spawn(first.manager, spec("Echo"), "1:");
  const [echo2, echo2Addr] = await spawn(second.manager, spec("Echo"), "2:");
  const [relay1] = await spawn(first.manager, spec("Relay"));
  const [relay2] = await spawn(second.manager, spec("Relay"));
  // Both ways between siblings: the first was linked when the second started.
  assert.equal(await relay1.call_addr(echo2Addr, "echo", "a"), "2:a");
  assert.equal(await relay2.call_addr("worker://first/1", "echo", "b"), "1:b");
  // A worker spawns in its sibling through that sibling's manager.
  assert.equal(
    await relay1.spawn_and_call("worker://second/0", spec("Echo"), "where"),
    "worker://second/",
  );
  // And both reach the local parent.
  assert.equal(await relay2.call(home, "echo", "c"), "home:c");
  assert.equal(await relay1.call_addr(home.addr, "echo", "d"), "home:d");
  assert.equal(await echo1.echo("e"), "1:e");
  assert.equal(await echo2.echo("f"), "2:f");
  // Workers reach nothing they are not linked to.
  await assert.rejects(
    relay1.call_addr("worker://nobody/0", "echo", 1),
    { name: "RemoteError", remoteName: "ConnectionClosedError" },
  );
});

Deno.test("startContainerWorker with an external clock: set_time wakes the worker's sleepers", async () => {
  await using parent = await Container.create(LOCAL);
  await using worker = await startContainerWorker({
    container: parent,
    externalClockStart: "2016-01-01T00:00:00+00:00",
  });
  const [sleeper] = await spawn(worker.manager, spec("Sleeper"));
  const woken = sleeper.sleep(5);
  assert.equal(await worker.manager.set_time(7), null);
  assert.deepEqual(await woken, [7, "2016-01-01T00:00:07.000Z"]);
  await assert.rejects(worker.manager.set_time(7), {
    name: "RemoteError",
    remoteName: "RangeError",
  });
  // A worker with a realtime clock refuses.
  await using realtime = await startContainerWorker({ container: parent });
  await assert.rejects(realtime.manager.set_time(1), {
    name: "RemoteError",
    remoteName: "TypeError",
  });
});

Deno.test("startContainerWorker: stop() ends the worker and drops the links to it", async () => {
  await using parent = await Container.create(LOCAL);
  await using sibling = await startContainerWorker({ container: parent });
  await using worker = await startContainerWorker({ container: parent });
  const [echo, echoAddr] = await spawn(worker.manager, spec("Echo"));
  const [relay] = await spawn(sibling.manager, spec("Relay"));
  assert.equal(await relay.call_addr(echoAddr, "echo", 1), "1");
  await worker.stop();
  await worker.stop(); // idempotent
  worker.terminate(); // harmless afterwards
  await assert.rejects(echo.echo(2), ConnectionClosedError);
  await assert.rejects(
    worker.manager.spawn(spec("Echo")),
    ConnectionClosedError,
  );
  // No link is left to it, from the parent or the sibling.
  await assert.rejects(parent.connect(echoAddr), ConnectionClosedError);
  await assert.rejects(relay.call_addr(echoAddr, "echo", 3), {
    name: "RemoteError",
    remoteName: "ConnectionClosedError",
  });
  // Its name is free again.
  await using again = await startContainerWorker({
    container: parent,
    name: worker.addr.slice("worker://".length, -1),
  });
  assert.equal(again.addr, worker.addr);
  await spawn(again.manager, spec("Echo"), "again:");
  // (A proxy cannot be passed on to a third container: use the address.)
  assert.equal(await relay.call_addr(`${again.addr}1`, "echo", 4), "again:4");
});

Deno.test("startContainerWorker: stop() after the parent container is shut down ends the worker", async () => {
  await using parent = await Container.create(LOCAL);
  await using worker = await startContainerWorker({ container: parent });
  await parent.shutdown();
  // No "stopped" report can come: stop() must not wait for one.
  await worker.stop();
});

Deno.test("startContainerWorker: terminate() fails the calls waiting for it, from the parent and siblings", async () => {
  await using parent = await Container.create(LOCAL);
  await using sibling = await startContainerWorker({ container: parent });
  await using worker = await startContainerWorker({ container: parent });
  const [hanger, hangerAddr] = await spawn(worker.manager, spec("Hanger"));
  const [relay] = await spawn(sibling.manager, spec("Relay"));
  const fromParent = hanger.hang();
  const fromSibling = relay.call_addr(hangerAddr, "hang");
  const failures = Promise.all([
    assert.rejects(fromParent, ConnectionClosedError),
    assert.rejects(fromSibling, {
      name: "RemoteError",
      remoteName: "ConnectionClosedError",
    }),
  ]);
  // Requests start in order: once ping is answered, the hangs are served.
  assert.equal(await hanger.ping(), "pong");
  assert.equal(await relay.call_addr(hangerAddr, "ping"), "pong");
  worker.terminate();
  await failures;
  await worker.stop(); // harmless afterwards
  // The sibling lives on.
  assert.equal(
    await relay.call_addr(`${sibling.addr}0`, "spawn", spec("Echo"))
      .then((r: unknown) => (r as unknown[])[1]),
    `${sibling.addr}2`,
  );
});

Deno.test("startContainerWorker: a worker that crashes is dropped like a terminated one", async () => {
  await using parent = await Container.create(LOCAL);
  const worker = await startContainerWorker({ container: parent });
  try {
    const [hanger] = await spawn(worker.manager, spec("Hanger"));
    const [crasher] = await spawn(worker.manager, spec("Crasher"));
    const pending = assert.rejects(hanger.hang(), ConnectionClosedError);
    // The worker may die before its answer is out.
    const answer = await crasher.crash().catch((error: unknown) => error);
    assert.ok(
      answer === "crashing" || answer instanceof ConnectionClosedError,
      String(answer),
    );
    await pending;
  } finally {
    await worker.stop();
  }
});

Deno.test("startContainerWorker: two workers with the same name → TypeError", async () => {
  await using parent = await Container.create(LOCAL);
  await using worker = await startContainerWorker({
    container: parent,
    name: "twin",
  });
  await assert.rejects(
    startContainerWorker({ container: parent, name: "twin" }),
    (error) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /"worker:\/\/twin\/" exists already/);
      return true;
    },
  );
  // The first one is unharmed.
  const [echo] = await spawn(worker.manager, spec("Echo"), "twin:");
  assert.equal(await echo.echo(1), "twin:1");
  for (const bad of ["", "a/b"]) {
    await assert.rejects(
      startContainerWorker({ container: parent, name: bad }),
      TypeError,
    );
  }
  // Codecs must be the container's, and have a name the worker understands.
  class OwnCodec extends JsonCodec {}
  await assert.rejects(
    startContainerWorker({ container: parent, codec: MsgPackCodec }),
    {
      name: "TypeError",
      message:
        /its codec MsgPackCodec differs from JsonCodec of the container that starts it/,
    },
  );
  await assert.rejects(
    startContainerWorker({ container: parent, codec: OwnCodec }),
    { name: "TypeError", message: /its codec OwnCodec differs/ },
  );
  {
    await using own = await Container.create(LOCAL, { codec: OwnCodec });
    await assert.rejects(startContainerWorker({ container: own }), {
      name: "TypeError",
      message:
        /its codec OwnCodec is not built in; only JsonCodec, MsgPackCodec, MsgPackBloscCodec can be named/,
    });
  }
});

Deno.test("startContainerWorker: the worker uses the container's codec unless told otherwise", async () => {
  await using parent = await Container.create(LOCAL, { codec: MsgPackCodec });
  await using worker = await startContainerWorker({ container: parent });
  const [echo] = await spawn(worker.manager, spec("Echo"));
  // Bytes: JSON could not carry them.
  assert.deepEqual(await echo.bytes(3), new Uint8Array([7, 7, 7]));
});

Deno.test("startContainerWorker: a bad spawn spec is an error reply, and the worker keeps working", async () => {
  await using parent = await Container.create(LOCAL);
  await using worker = await startContainerWorker({ container: parent });
  for (
    const [bad, name, message] of [
      ["no-hash", "TypeError", /Invalid agent spec/],
      [spec("Nope"), "TypeError", /has no export "Nope"/],
      [spec("NotAnAgent"), "TypeError", /is not an Agent class/],
      [
        `${new URL("./nowhere.ts", AGENTS_URL).href}#X`,
        "TypeError",
        /there is no module file at "file:.*\/nowhere\.ts"/,
      ],
      [spec("Broken"), "RangeError", /Broken cannot be built/],
    ] as const
  ) {
    await assert.rejects(worker.manager.spawn(bad), (error) => {
      assert.equal((error as Error).name, "RemoteError");
      assert.equal((error as { remoteName: string }).remoteName, name);
      assert.match((error as Error).message, message);
      return true;
    });
  }
  // Relative specs resolve from the working directory (the parent's).
  const fromCwd = relative(Deno.cwd(), fileURLToPath(AGENTS_URL));
  const [echo] = await spawn(worker.manager, `${fromCwd}#Echo`, "still:");
  assert.equal(await echo.echo("ok"), "still:ok");
});

for (
  const [name, codec] of [
    ["json", JsonCodec],
    ["msgpack", MsgPackCodec],
    ["msgpackblosc", MsgPackBloscCodec],
  ] as [string, CodecClass][]
) {
  Deno.test(`startContainerWorker (${name}): large payloads both ways`, async () => {
    await using parent = await Container.create(LOCAL, { codec });
    const home = new Echo(parent, "");
    await using worker = await startContainerWorker({
      container: parent,
      codec,
    });
    const [echo] = await spawn(worker.manager, spec("Echo"));
    const [relay] = await spawn(worker.manager, spec("Relay"));
    const text = "y".repeat(1 << 20);
    for (let i = 0; i < 3; i++) {
      assert.equal(
        await within(5000, `1 MiB to the worker #${i}`, echo.echo(text)),
        text,
      );
      assert.equal(
        await within(
          5000,
          `1 MiB from the worker #${i}`,
          relay.call(home, "echo", text),
        ),
        text,
      );
    }
    if (codec !== JsonCodec) {
      const bytes = await within(5000, "1 MiB of bytes", echo.bytes(1 << 20));
      assert.deepEqual(bytes, new Uint8Array(1 << 20).fill(7));
    }
  });
}

Deno.test("a container's shutdown stops the Workers it started", async () => {
  const container = await Container.create(LOCAL);
  const worker = await startContainerWorker({ container });
  const stopped = Promise.withResolvers<void>();
  worker.worker.addEventListener("message", (event) => {
    if ((event as MessageEvent).data?.type === "stopped") stopped.resolve();
  });
  await container.shutdown();
  // The worker container was stopped through its manager, not just cut off.
  await stopped.promise;
  await worker.stop();
});

Deno.test("startContainerWorker: the parent's onConnectionLost names a worker that crashed", async () => {
  const lost = Promise.withResolvers<[unknown, string]>();
  await using parent = await Container.create(LOCAL, {
    onConnectionLost: (error, peer) => lost.resolve([error, peer]),
  });
  const worker = await startContainerWorker({ container: parent });
  try {
    const [crasher] = await spawn(worker.manager, spec("Crasher"));
    await crasher.crash().catch(() => {});
    const [, peer] = await within(10_000, "onConnectionLost", lost.promise);
    assert.equal(peer, worker.addr);
  } finally {
    await worker.stop();
  }
});

Deno.test("startContainerWorker: the parent's shutdown, which stops its Workers, reports no lost connection", async () => {
  const lost: string[] = [];
  const container = await Container.create(LOCAL, {
    onConnectionLost: (_error, peer) => lost.push(peer),
  });
  const workers = [
    await startContainerWorker({ container }),
    await startContainerWorker({ container }),
  ];
  for (const worker of workers) await spawn(worker.manager, spec("Echo"));
  await container.shutdown();
  for (const worker of workers) await worker.stop();
  assert.deepEqual(lost, []);
});

Deno.test("startContainerWorker and startContainerProcess take the parent's maxFrameSize: 20 MiB both ways", async () => {
  const maxFrameSize = 32 * 1024 * 1024;
  await using parent = await Container.create(LOCAL, {
    codec: MsgPackCodec,
    maxFrameSize,
  });
  const home = new Echo(parent, "");
  const text = "z".repeat(20 * 1024 * 1024);
  await using worker = await startContainerWorker({ container: parent });
  await using child = await startContainerProcess({ container: parent });
  for (const manager of [worker.manager, child.manager]) {
    const [echo] = await spawn(manager, spec("Echo"));
    const [relay] = await spawn(manager, spec("Relay"));
    assert.equal(
      await within(30_000, "20 MiB there and back", echo.echo(text)),
      text,
    );
    assert.equal(
      await within(30_000, "20 MiB back home", relay.call(home, "echo", text)),
      text,
    );
  }
});
