// ContainerOptions.onConnectionLost: what each side is told when a
// connection to or from another container ends while it runs.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Agent, Container } from "../../agent/mod.ts";
import { MsgPackCodec } from "../../codecs/mod.ts";
import { ConnectionClosedError, ProtocolError } from "../../errors.ts";
import { expose } from "../../rpc/mod.ts";
import { textFrame, writeAll } from "./_wire.ts";

const LOCAL = { hostname: "127.0.0.1", port: 0 };
const ACCEPTED_PEER = /^tcp:\/\/127\.0\.0\.1:\d+\/$/;

function readTls(name: string): string {
  return Deno.readTextFileSync(
    fileURLToPath(new URL(`../fixtures/tls-agent/${name}`, import.meta.url)),
  );
}

class Pinger extends Agent {
  @expose
  ping(): string {
    return "pong";
  }
}

/** An `onConnectionLost` that records its calls and resolves at the first. */
function recorder(): {
  onConnectionLost: (error: unknown, peer: string) => void;
  calls: [unknown, string][];
  first: Promise<[unknown, string]>;
} {
  const calls: [unknown, string][] = [];
  const { promise, resolve } = Promise.withResolvers<[unknown, string]>();
  return {
    onConnectionLost: (error, peer) => {
      calls.push([error, peer]);
      resolve([error, peer]);
    },
    calls,
    first: promise,
  };
}

/**
 * The first report, or a failure if none comes within 10 s: without the
 * hook wired, the test fails rather than hangs.
 */
async function firstReport(
  lost: { first: Promise<[unknown, string]> },
): Promise<[unknown, string]> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const none = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error("onConnectionLost was not called within 10 s")),
      10_000,
    );
  });
  try {
    return await Promise.race([lost.first, none]);
  } finally {
    clearTimeout(timer);
  }
}

/** Lets callbacks of connections closed so far run before checking them. */
function nextTask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("onConnectionLost: the peer's shutdown is reported to the other side, with its address", async () => {
  const lostA = recorder();
  const lostB = recorder();
  await using a = await Container.create(LOCAL, {
    onConnectionLost: lostA.onConnectionLost,
  });
  const b = await Container.create(LOCAL, {
    onConnectionLost: lostB.onConnectionLost,
  });
  const pinger = new Pinger(b);
  const remote = await a.connect<Pinger>(pinger.addr);
  assert.equal(await remote.ping(), "pong");
  await b.shutdown();
  const [error, peer] = await firstReport(lostA);
  assert.equal(error, undefined);
  assert.equal(peer, b.addr);
  await nextTask();
  assert.deepEqual(lostB.calls, [], "its own shutdown is not reported");
  assert.equal(lostA.calls.length, 1);
});

Deno.test("onConnectionLost: the accepting side is told of a caller that shut down, by its end's address", async () => {
  const lost = recorder();
  await using server = await Container.create(LOCAL, {
    onConnectionLost: lost.onConnectionLost,
  });
  const pinger = new Pinger(server);
  const client = await Container.create(LOCAL);
  const remote = await client.connect<Pinger>(pinger.addr);
  assert.equal(await remote.ping(), "pong");
  await client.shutdown();
  const [error, peer] = await firstReport(lost);
  assert.equal(error, undefined);
  assert.match(peer, ACCEPTED_PEER);
  assert.notEqual(
    peer,
    client.addr,
    "the peer's own end, not where it listens",
  );
});

Deno.test("onConnectionLost: a caller with another codec is reported on the accepting side as a ProtocolError", async () => {
  const lost = recorder();
  await using json = await Container.create(LOCAL, {
    onConnectionLost: lost.onConnectionLost,
  });
  await using msgpack = await Container.create(LOCAL, { codec: MsgPackCodec });
  const pinger = new Pinger(json);
  await assert.rejects(msgpack.connect(pinger.addr), ConnectionClosedError);
  const [error, peer] = await firstReport(lost);
  assert.ok(error instanceof ProtocolError, String(error));
  assert.match(peer, ACCEPTED_PEER);
});

for (
  const [what, bytes, pattern] of [
    // A header that announces 4 GiB - 1 bytes: refused before any is read.
    [
      "frame above the size limit",
      new Uint8Array([0xff, 0xff, 0xff, 0xff]),
      /frame/,
    ],
    [
      "frame that is not a message",
      textFrame('{"not": "a message"}'),
      /message/,
    ],
  ] as const
) {
  Deno.test(`onConnectionLost: a raw peer's ${what} is reported, with the peer's end`, async () => {
    const lost = recorder();
    await using server = await Container.create(LOCAL, {
      onConnectionLost: lost.onConnectionLost,
    });
    const { port } = new URL(server.addr);
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: +port });
    await writeAll(conn, bytes);
    const [error, peer] = await firstReport(lost);
    assert.ok(error instanceof ProtocolError, String(error));
    assert.match(error.message, pattern);
    assert.equal(peer, `tcp://127.0.0.1:${conn.localAddr.port}/`);
  });
}

Deno.test("onConnectionLost: shutting down with connections open in both directions reports nothing", async () => {
  const lostA = recorder();
  const lostB = recorder();
  const a = await Container.create(LOCAL, {
    onConnectionLost: lostA.onConnectionLost,
  });
  const b = await Container.create(LOCAL, {
    onConnectionLost: lostB.onConnectionLost,
  });
  const onA = new Pinger(a);
  const onB = new Pinger(b);
  assert.equal(await (await a.connect<Pinger>(onB.addr)).ping(), "pong");
  assert.equal(await (await b.connect<Pinger>(onA.addr)).ping(), "pong");
  await Promise.all([a.shutdown(), b.shutdown()]);
  await nextTask();
  assert.deepEqual(lostA.calls, []);
  assert.deepEqual(lostB.calls, []);
});

Deno.test("onConnectionLost: a pending call still rejects with ConnectionClosedError when the peer goes", async () => {
  const lost = recorder();
  await using a = await Container.create(LOCAL, {
    onConnectionLost: lost.onConnectionLost,
  });
  const b = await Container.create(LOCAL);
  class Waiter extends Agent {
    entered = Promise.withResolvers<void>();
    @expose
    wait(): Promise<void> {
      this.entered.resolve();
      return new Promise(() => {});
    }
  }
  const waiter = new Waiter(b);
  const remote = await a.connect<Waiter>(waiter.addr);
  const call = remote.wait();
  await waiter.entered.promise;
  const [[error, peer]] = await Promise.all([
    firstReport(lost),
    assert.rejects(call, ConnectionClosedError),
    b.shutdown(),
  ]);
  assert.ok(
    error === undefined || error instanceof ConnectionClosedError,
    String(error),
  );
  assert.equal(peer, b.addr);
});

Deno.test("onConnectionLost: a caller over a Unix socket is named ipc://?/", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lost = recorder();
    await using server = await Container.create(`unix:${dir}/c.sock`, {
      onConnectionLost: lost.onConnectionLost,
    });
    const pinger = new Pinger(server);
    const client = await Container.create(LOCAL);
    assert.equal(
      await (await client.connect<Pinger>(pinger.addr)).ping(),
      "pong",
    );
    await client.shutdown();
    assert.deepEqual(await firstReport(lost), [undefined, "ipc://?/"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("onConnectionLost: with TLS, a container signed by another CA is reported by the server", async () => {
  const lost = recorder();
  await using server = await Container.create(LOCAL, {
    tls: {
      cert: readTls("container.pem"),
      key: readTls("container.key"),
      caCerts: [readTls("ca.pem")],
    },
    onConnectionLost: lost.onConnectionLost,
  });
  const pinger = new Pinger(server);
  await using stranger = await Container.create(LOCAL, {
    tls: {
      cert: readTls("other.pem"),
      key: readTls("other.key"),
      caCerts: [readTls("ca.pem")],
    },
  });
  await assert.rejects(stranger.connect(pinger.addr));
  const [error, peer] = await firstReport(lost);
  assert.ok(error instanceof Error);
  assert.match(peer, ACCEPTED_PEER);
});

Deno.test("onConnectionLost: what it throws is logged, and the process goes on", async () => {
  const logged = Promise.withResolvers<unknown[]>();
  const error = console.error;
  console.error = (...args: unknown[]) => logged.resolve(args);
  try {
    await using server = await Container.create(LOCAL, {
      onConnectionLost: () => {
        throw new Error("a hook's own bug");
      },
    });
    const pinger = new Pinger(server);
    const client = await Container.create(LOCAL);
    assert.equal(
      await (await client.connect<Pinger>(pinger.addr)).ping(),
      "pong",
    );
    await client.shutdown();
    const [text, thrown] = await logged.promise;
    assert.equal(text, "aiomas: onConnectionLost threw:");
    assert.equal((thrown as Error).message, "a hook's own bug");
  } finally {
    console.error = error;
  }
});

Deno.test("maxConnections: a container refuses connections beyond it and reports each", async () => {
  const lost = recorder();
  await using server = await Container.create(LOCAL, {
    maxConnections: 1,
    onConnectionLost: lost.onConnectionLost,
  });
  const pinger = new Pinger(server);
  await using first = await Container.create(LOCAL);
  await using second = await Container.create(LOCAL);
  const remote = await first.connect<Pinger>(pinger.addr);
  assert.equal(await remote.ping(), "pong");
  await assert.rejects(second.connect(pinger.addr), ConnectionClosedError);
  const [error, peer] = await firstReport(lost);
  assert.ok(error instanceof ConnectionClosedError, String(error));
  assert.match(
    error.message,
    /refused: the container has maxConnections \(1\) open/,
  );
  assert.match(peer, ACCEPTED_PEER);
  assert.equal(await remote.ping(), "pong");
});
