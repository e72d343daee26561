import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  Container,
  type DynamicRemote,
  startContainerProcess,
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

const tlsFile = (name: string) =>
  fileURLToPath(new URL(`../fixtures/tls-agent/${name}`, import.meta.url));

for (
  const [name, codec] of [
    ["json", JsonCodec],
    ["msgpack", MsgPackCodec],
    ["msgpackblosc", MsgPackBloscCodec],
  ] as [string, CodecClass][]
) {
  Deno.test(`startContainerProcess (${name}): spawn, calls both ways, stop() exits with 0`, async () => {
    await using parent = await Container.create(LOCAL, { codec });
    const home = new Echo(parent, "parent:");
    const child = await startContainerProcess({ container: parent, codec });
    try {
      assert.match(child.addr, /^tcp:\/\/127\.0\.0\.1:[1-9]\d*\/$/);
      assert.notEqual(child.addr, parent.addr);
      assert.equal(String(child.manager), `ManagerProxy('${child.addr}0')`);
      const [echo, echoAddr] = await spawn(child.manager, spec("Echo"), "c:");
      assert.equal(echoAddr, `${child.addr}1`);
      assert.equal(await echo.echo(name), `c:${name}`);
      assert.equal(await echo.where(), child.addr);
      // Bytes travel with msgpack; JSON cannot carry them (as in aiomas).
      if (codec === JsonCodec) {
        await assert.rejects(echo.bytes(3), {
          name: "RemoteError",
          remoteName: "SerializationError",
        });
      } else {
        assert.deepEqual(await echo.bytes(3), new Uint8Array([7, 7, 7]));
      }
      await assert.rejects(echo.fail("no"), {
        name: "RemoteError",
        remoteName: "RangeError",
        remoteMessage: "no",
      });
      // The child calls back: a parent agent passed as an argument travels
      // as a reference and is called over the same connection …
      const [relay] = await spawn(child.manager, spec("Relay"));
      assert.equal(await relay.call(home, "echo", 1), "parent:1");
      // … and by address, the child dials the parent.
      assert.equal(await relay.call_addr(home.addr, "echo", 2), "parent:2");
    } finally {
      const status = await child.stop();
      assert.equal(status.code, 0);
      assert.equal(status.success, true);
    }
    // The process is gone: its manager no longer answers.
    await assert.rejects(
      child.manager.spawn(spec("Echo")),
      ConnectionClosedError,
    );
  });
}

Deno.test("startContainerProcess with an external clock: set_time wakes the child's sleepers", async () => {
  await using parent = await Container.create(LOCAL, { codec: MsgPackCodec });
  await using child = await startContainerProcess({
    container: parent,
    codec: MsgPackCodec,
    externalClockStart: new Date("2016-01-01T00:00:00Z"),
  });
  const [sleeper] = await spawn(child.manager, spec("Sleeper"));
  assert.equal(await sleeper.time(), 0);
  const woken = sleeper.sleep(10);
  await child.manager.set_time(10);
  assert.deepEqual(await woken, [10, "2016-01-01T00:00:10.000Z"]);
  await assert.rejects(child.manager.set_time(9), {
    name: "RemoteError",
    remoteName: "RangeError",
  });
});

Deno.test("startContainerProcess: kill() rejects pending calls at once, and the next connect dials again", async () => {
  await using parent = await Container.create(LOCAL);
  await using child = await startContainerProcess({ container: parent });
  const [hanger, hangerAddr] = await spawn(child.manager, spec("Hanger"));
  // When each call fails, and with what (a handler is attached at once).
  const failure = (call: Promise<unknown>) =>
    call.then(
      () => assert.fail("a call to a killed process succeeded"),
      (error: unknown) => ({ error, at: performance.now() }),
    );
  const pending = failure(hanger.hang());
  const pendingToo = failure((await parent.connect(hangerAddr)).hang());
  // Requests start in order: once ping is answered, both hangs are served.
  assert.equal(await hanger.ping(), "pong");
  const status = await child.kill();
  const killed = performance.now();
  assert.equal(status.success, false);
  assert.equal(status.signal, "SIGKILL");
  for (const { error, at } of [await pending, await pendingToo]) {
    assert.ok(error instanceof ConnectionClosedError, String(error));
    // A correctness bound (the peer's death is noticed from the socket, not
    // from a timeout); it may even fail before kill() has returned.
    const elapsed = at - killed;
    assert.ok(elapsed < 100, `a pending call failed ${elapsed} ms after kill`);
  }
  // The broken connection is not reused: connect dials, and nobody listens.
  await assert.rejects(
    parent.connect(`${child.addr}0`),
    Deno.errors.ConnectionRefused,
  );
  await assert.rejects(
    parent.connect(hangerAddr),
    Deno.errors.ConnectionRefused,
  );
  // Stopping a dead process just reports its status again.
  assert.deepEqual(await child.stop(), status);
});

Deno.test("startContainerProcess on a Unix socket, with a relative spec and base", async () => {
  const dir = await Deno.makeTempDir({ prefix: "aiomas-process-test-" });
  try {
    const path = `${dir}/child.sock`;
    await using parent = await Container.create(LOCAL);
    await using child = await startContainerProcess({
      container: parent,
      addr: { path },
      base: new URL("../fixtures/", import.meta.url).href,
    });
    assert.equal(child.addr, `ipc://[${path}]/`);
    const [echo] = await spawn(child.manager, "./agents/agents.ts#Echo", "u:");
    assert.equal(await echo.echo(1), "u:1");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startContainerProcess with mutual TLS", async () => {
  await using parent = await Container.create(LOCAL, {
    tls: {
      cert: await Deno.readTextFile(tlsFile("container.pem")),
      key: await Deno.readTextFile(tlsFile("container.key")),
      caCerts: [await Deno.readTextFile(tlsFile("ca.pem"))],
    },
  });
  const home = new Echo(parent, "tls-parent:");
  await using child = await startContainerProcess({
    container: parent,
    tls: {
      cert: tlsFile("container.pem"),
      key: tlsFile("container.key"),
      ca: tlsFile("ca.pem"),
    },
  });
  const [relay] = await spawn(child.manager, spec("Relay"));
  assert.equal(await relay.call(home, "echo", 1), "tls-parent:1");
  assert.equal(await relay.call_addr(home.addr, "echo", 2), "tls-parent:2");
});

Deno.test("startContainerProcess: the child uses the container's codec unless told otherwise", async () => {
  await using parent = await Container.create(LOCAL, { codec: MsgPackCodec });
  await using child = await startContainerProcess({ container: parent });
  const [echo] = await spawn(child.manager, spec("Echo"));
  // Bytes: JSON could not carry them.
  assert.deepEqual(await echo.bytes(3), new Uint8Array([7, 7, 7]));
});

Deno.test("startContainerProcess fails cleanly: unnamed codec, early exit, abort", async () => {
  await using parent = await Container.create(LOCAL);
  class OwnCodec extends JsonCodec {}
  // Refused before a process is started: one codec on both ends of a link.
  await assert.rejects(
    startContainerProcess({ container: parent, codec: MsgPackCodec }),
    {
      name: "TypeError",
      message:
        /its codec MsgPackCodec differs from JsonCodec of the container that starts it/,
    },
  );
  await assert.rejects(
    startContainerProcess({ container: parent, codec: OwnCodec }),
    { name: "TypeError", message: /its codec OwnCodec differs/ },
  );
  {
    await using own = await Container.create(LOCAL, { codec: OwnCodec });
    await assert.rejects(startContainerProcess({ container: own }), {
      name: "TypeError",
      message:
        /its codec OwnCodec is not built in; only JsonCodec, MsgPackCodec, MsgPackBloscCodec can be named/,
    });
  }
  // A malformed address fails before a process is started.
  await assert.rejects(
    startContainerProcess({ container: parent, addr: "127.0.0.1:http" }),
    { name: "TypeError", message: /Invalid address "127\.0\.0\.1:http"/ },
  );
  // The child fails to start and exits (its error goes to stderr).
  await assert.rejects(
    startContainerProcess({
      container: parent,
      serializers: "./no-such-module.ts#serializers",
    }),
    /exited before it was ready/,
  );
  // Aborting while it starts kills it and rejects with the reason.
  const controller = new AbortController();
  const starting = startContainerProcess({
    container: parent,
    signal: controller.signal,
  });
  controller.abort();
  await assert.rejects(starting, { name: "AbortError" });
  await assert.rejects(
    startContainerProcess({
      container: parent,
      signal: AbortSignal.abort(new RangeError("never")),
    }),
    RangeError,
  );
});

Deno.test("startContainerProcess: a later abort of its signal leaves the process running", async () => {
  await using parent = await Container.create(LOCAL);
  const controller = new AbortController();
  await using child = await startContainerProcess({
    container: parent,
    signal: controller.signal,
  });
  controller.abort();
  const [echo] = await spawn(child.manager, spec("Echo"), "still:");
  assert.equal(await echo.echo("here"), "still:here");
  assert.equal((await child.stop()).code, 0);
});

Deno.test("startContainerProcess: a ready line that continues the child's unfinished stdout line is found; the rest is passed on", async () => {
  await using parent = await Container.create(LOCAL);
  const printed: unknown[] = [];
  const original = console.log;
  console.log = (...args: unknown[]) => printed.push(args.join(" "));
  let child;
  try {
    const serializers = new URL(
      "../fixtures/agents/noisy_serializers.ts#serializers",
      import.meta.url,
    ).href;
    // Without the fix the start never ends: a signal bounds it.
    child = await startContainerProcess({
      container: parent,
      serializers,
      signal: AbortSignal.timeout(30_000),
    });
  } finally {
    console.log = original;
  }
  await using _ = child;
  assert.deepEqual(printed, ["loading serializers... "]);
  const [echo] = await spawn(child.manager, spec("Echo"), "ok:");
  assert.equal(await echo.echo("ready"), "ok:ready");
});

Deno.test("startContainerProcess: the parent container's shutdown stops the process cleanly; stop() afterwards gives its status", async () => {
  const parent = await Container.create(LOCAL);
  const child = await startContainerProcess({ container: parent });
  await parent.shutdown();
  // Stopped through its manager, not killed: it exits with 0 on its own.
  const status = await child.process.status;
  assert.equal(status.code, 0);
  assert.equal(status.signal, null);
  assert.deepEqual(await child.stop(), status);
  assert.deepEqual(await child.stop(), status, "idempotent");
});

Deno.test("startContainerProcess: stop() while an agent waits on a timer ends the process with 0 after the close grace, not killed at stop's deadline", async () => {
  await using parent = await Container.create(LOCAL);
  const child = await startContainerProcess({ container: parent });
  const [hanger] = await spawn(child.manager, spec("Hanger"));
  // A timer of the agent's own (the container's clock is cancelled at
  // shutdown, this is not): it kept the process alive after its shutdown.
  const waiting = hanger.wait(3_600_000);
  waiting.catch(() => {});
  await hanger.ping();
  // With stop's deadline at 60 s, a kill would take a minute: within()
  // gives up first.
  const status = await within(20_000, "child.stop()", child.stop(60_000));
  assert.equal(status.signal, null);
  assert.equal(status.code, 0);
  await assert.rejects(waiting, ConnectionClosedError);
});
