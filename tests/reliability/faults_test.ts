// Faults: graceful shutdown with calls in flight, handlers that never
// finish, peers that stop reading, containers shut down mid-call, and a
// peer process killed with SIGKILL mid-call.
import assert from "node:assert/strict";
import {
  Agent,
  ConnectionClosedError,
  Container,
  expose,
  ProtocolError,
  rpc,
} from "../../mod.ts";
import { frame, writeAll } from "./_fuzz.ts";

const LOCAL = { hostname: "127.0.0.1", port: 0 };
type Addr = { hostname: string; port: number };
const utf8 = new TextEncoder();

/** A promise the test opens when it wants. */
function gate() {
  return Promise.withResolvers<void>();
}

/** Resolves once `count` calls of `arrive()` happened. */
function counter(count: number) {
  let seen = 0;
  const all = Promise.withResolvers<void>();
  return {
    arrive() {
      if (++seen === count) all.resolve();
    },
    get seen() {
      return seen;
    },
    reached: all.promise,
  };
}

/** Resolves true if `promise` settles within `ms`, false otherwise. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** How a promise settled, and when (performance.now()). */
async function settled(
  promise: Promise<unknown>,
): Promise<{ ok: boolean; value: unknown; at: number }> {
  try {
    const value = await promise;
    return { ok: true, value, at: performance.now() };
  } catch (error) {
    return { ok: false, value: error, at: performance.now() };
  }
}

Deno.test("server.close({timeout}): calls in flight are answered before closing; calls after close started get ConnectionClosedError", async () => {
  const release = gate();
  const started = counter(3);
  class Slow {
    @expose
    async slow(x: number): Promise<number> {
      started.arrive();
      await release.promise;
      return x * 10;
    }

    @expose
    quick(x: number): number {
      return x;
    }
  }
  const server = await rpc.startServer(LOCAL, new Slow());
  const client = await rpc.openConnection(server.addr);
  try {
    assert.equal(await client.call("quick", [0]), 0);
    const inFlight = [1, 2, 3].map((x) => client.call("slow", [x]));
    await started.reached;
    // Know when the server starts closing this connection (server.close
    // first stops accepting, then closes each channel).
    const [serverSide] = [...server.clients];
    const closingStarted = gate();
    const close = serverSide.channel.close.bind(serverSide.channel);
    serverSide.channel.close = (options) => {
      const closing = close(options);
      closingStarted.resolve();
      return closing;
    };
    const closing = server.close({ timeout: 5000 });
    await closingStarted.promise;
    const late = settled(client.call("quick", [4]));
    const releasedAt = performance.now();
    release.resolve();
    assert.deepEqual(await Promise.all(inFlight), [10, 20, 30]);
    const lateCall = await late;
    assert.equal(lateCall.ok, false);
    assert.ok(
      lateCall.value instanceof ConnectionClosedError,
      String(lateCall.value),
    );
    await closing;
    const elapsed = performance.now() - releasedAt;
    // Closed as soon as the calls were answered, not after the timeout.
    assert.ok(elapsed < 2000, `close took ${elapsed.toFixed(0)} ms`);
    assert.equal(server.clients.size, 0);
  } finally {
    release.resolve();
    await client.close();
    await server.close();
  }
});

Deno.test("server.close({timeout}): a handler that never finishes makes close return after about the timeout; the caller gets ConnectionClosedError", async () => {
  const started = gate();
  class Stuck {
    @expose
    never(): Promise<never> {
      started.resolve();
      return new Promise<never>(() => {});
    }
  }
  const server = await rpc.startServer(LOCAL, new Stuck());
  const client = await rpc.openConnection(server.addr);
  try {
    const call = settled(client.call("never"));
    await started.promise;
    const t0 = performance.now();
    await server.close({ timeout: 300 });
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 250, `close returned after ${elapsed.toFixed(0)} ms`);
    assert.ok(elapsed < 1500, `close returned after ${elapsed.toFixed(0)} ms`);
    const outcome = await call;
    assert.equal(outcome.ok, false);
    assert.ok(outcome.value instanceof ConnectionClosedError);
    console.log(
      `close({timeout: 300}) with a stuck handler: ${elapsed.toFixed(0)} ms`,
    );
  } finally {
    await client.close();
    await server.close();
  }
});

// Closing a channel whose socket write is stuck (the peer stopped reading)
// used to await `WritableStreamDefaultWriter.abort()`, which by the Streams
// spec waits for the in-flight write: forever (fixed in d8b98cd: the
// transport is closed). A regression fails after 3 s instead of hanging.
Deno.test({
  name:
    "server.close({timeout}): a peer that stops reading while large replies are queued cannot make close hang",
  async fn() {
    const called = counter(4);
    class Big {
      @expose
      big(n: number): string {
        called.arrive();
        return "x".repeat(n);
      }
    }
    const server = await rpc.startServer(LOCAL, new Big());
    // A raw peer that asks for 4 × 16 MiB and never reads a byte.
    const conn = await Deno.connect(server.addr as Addr);
    try {
      for (let id = 0; id < 4; id++) {
        await writeAll(
          conn,
          frame(utf8.encode(`[0, ${id}, ["big", [16777216], {}]]`)),
        );
      }
      await called.reached;
      const t0 = performance.now();
      const closed = await within(server.close({ timeout: 500 }), 3000);
      const elapsed = performance.now() - t0;
      assert.ok(closed, "server.close({timeout: 500}) still pending after 3 s");
      assert.ok(elapsed < 2500, `close took ${elapsed.toFixed(0)} ms`);
      console.log(
        `close({timeout: 500}) with 64 MiB of replies stuck: ${
          elapsed.toFixed(0)
        } ms`,
      );
    } finally {
      // Closing our end fails the stuck write, which lets close() finish.
      conn.close();
      await server.close();
    }
  },
});

Deno.test("a connection that fails while its socket write is stuck is released at once", async () => {
  let calls = 0;
  const called = gate();
  class Big {
    @expose
    big(n: number): string {
      if (++calls === 2) called.resolve();
      return "x".repeat(n);
    }
  }
  let outcome: Promise<unknown> | undefined;
  const server = await rpc.startServer(LOCAL, new Big(), {
    onConnection: (client) => {
      outcome = client.closed.then(() => undefined, (e) => e);
    },
  });
  // A peer that asks for 2 × 16 MiB, stops reading, then breaks the protocol.
  const conn = await Deno.connect(server.addr as Addr);
  try {
    for (let id = 0; id < 2; id++) {
      await writeAll(
        conn,
        frame(utf8.encode(`[0, ${id}, ["big", [16777216], {}]]`)),
      );
    }
    await called.promise;
    // Read a little of the first reply: its write has started, and it stays
    // in flight since nothing more is read.
    assert.ok(await conn.read(new Uint8Array(1024)));
    await writeAll(conn, new Uint8Array(4)); // an empty frame
    const t0 = performance.now();
    const released = await within(outcome!, 3000);
    assert.ok(released, "the failed connection is still open after 3 s");
    assert.ok(await outcome instanceof ProtocolError);
    console.log(
      `failed with a stuck write: released after ${
        (performance.now() - t0).toFixed(1)
      } ms`,
    );
  } finally {
    conn.close();
    await server.close();
  }
});

class Worker extends Agent {
  release = gate();
  started = gate();

  @expose
  async slow(x: number): Promise<number> {
    this.started.resolve();
    await this.release.promise;
    return x;
  }

  @expose
  never(): Promise<never> {
    this.started.resolve();
    return new Promise<never>(() => {});
  }

  @expose
  add(a: number, b: number): number {
    return a + b;
  }
}

Deno.test("container: shutting down the caller's container rejects its calls in flight with ConnectionClosedError at once", async () => {
  const a = await Container.create(LOCAL);
  const b = await Container.create(LOCAL);
  try {
    const worker = new Worker(b);
    const proxy = await a.connect<Worker>(worker.addr);
    assert.equal(await proxy.add(1, 2), 3);
    const calls = [settled(proxy.never()), settled(proxy.slow(1))];
    await worker.started.promise;
    const t0 = performance.now();
    await a.shutdown();
    for (const outcome of await Promise.all(calls)) {
      assert.equal(outcome.ok, false);
      assert.ok(outcome.value instanceof ConnectionClosedError);
      assert.ok(outcome.at - t0 < 100, `rejected after ${outcome.at - t0} ms`);
    }
    await assert.rejects(proxy.add(1, 2), ConnectionClosedError);
    await assert.rejects(a.connect(worker.addr), ConnectionClosedError);
  } finally {
    await a.shutdown();
    await b.shutdown();
  }
});

Deno.test("container: shutting down the callee's container answers calls that finish in time; a stuck call ends in ConnectionClosedError, not a hang", async () => {
  const a = await Container.create(LOCAL);
  const b = await Container.create(LOCAL);
  try {
    const fast = new Worker(b);
    const stuck = new Worker(b);
    const fastProxy = await a.connect<Worker>(fast.addr);
    const stuckProxy = await a.connect<Worker>(stuck.addr);
    const answered = settled(fastProxy.slow(42));
    const hanging = settled(stuckProxy.never());
    await fast.started.promise;
    await stuck.started.promise;
    const t0 = performance.now();
    const shutdown = b.shutdown();
    fast.release.resolve();
    const first = await answered;
    assert.deepEqual([first.ok, first.value], [true, 42]);
    await shutdown;
    const elapsed = performance.now() - t0;
    const second = await hanging;
    assert.equal(second.ok, false);
    assert.ok(second.value instanceof ConnectionClosedError);
    // Bounded by the default close timeout (1 s), not the stuck handler.
    assert.ok(elapsed < 2500, `shutdown took ${elapsed.toFixed(0)} ms`);
    console.log(`callee shutdown with a stuck call: ${elapsed.toFixed(0)} ms`);
  } finally {
    await a.shutdown();
    await b.shutdown();
  }
});

/** What _peer.ts serves, on its RPC server and as its agent. */
interface PeerApi {
  add(a: number, b: number): number;
  hang(): Promise<never>;
}

/** A peer process (_peer.ts), its announced addresses and its output lines. */
interface Peer {
  child: Deno.ChildProcess;
  rpcPort: number;
  agent: string;
  /** Resolves when `count` "hang" lines were printed in total. */
  hangs(count: number): Promise<void>;
  /** Resolves when stdout has ended. */
  output: Promise<void>;
}

async function spawnPeer(containerPort = 0): Promise<Peer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      new URL("./_peer.ts", import.meta.url).pathname,
      String(containerPort),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const first = Promise.withResolvers<string>();
  let hangLines = 0;
  const waiters: { count: number; resolve: () => void }[] = [];
  const output = (async () => {
    let buffer = "";
    for await (
      const text of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      buffer += text;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line === "hang") {
          hangLines++;
          for (const waiter of waiters) {
            if (hangLines >= waiter.count) waiter.resolve();
          }
        } else first.resolve(line);
      }
    }
    first.reject(new Error("the peer exited before announcing its port"));
  })();
  const { rpcPort, agent } = JSON.parse(await first.promise);
  return {
    child,
    rpcPort,
    agent,
    hangs(count) {
      if (hangLines >= count) return Promise.resolve();
      const waiter = Promise.withResolvers<void>();
      waiters.push({ count, resolve: waiter.resolve });
      return waiter.promise;
    },
    output,
  };
}

Deno.test("peer process killed mid-call: every pending call rejects with ConnectionClosedError within 100 ms; no zombie; the container dials again", async () => {
  const peer = await spawnPeer();
  let peer2: Peer | undefined;
  const container = await Container.create(LOCAL);
  const client = await rpc.openConnection<PeerApi>({
    hostname: "127.0.0.1",
    port: peer.rpcPort,
  });
  try {
    assert.equal(await client.remote.add(1, 2), 3);
    const proxy = await container.connect<PeerApi>(peer.agent);
    assert.equal(await proxy.add(2, 3), 5);
    const pending = [
      settled(client.remote.hang()),
      settled(client.remote.hang()),
      settled(proxy.hang()),
      settled(proxy.hang()),
    ];
    // All four are running in the peer.
    await peer.hangs(4);
    const killedAt = performance.now();
    peer.child.kill("SIGKILL");
    const outcomes = await Promise.all(pending);
    const delays = outcomes.map((outcome) => outcome.at - killedAt);
    for (const outcome of outcomes) {
      assert.equal(outcome.ok, false);
      assert.ok(
        outcome.value instanceof ConnectionClosedError,
        String(outcome.value),
      );
    }
    assert.ok(
      Math.max(...delays) < 100,
      `rejected after ${delays.map((d) => d.toFixed(1)).join(", ")} ms`,
    );
    console.log(
      `SIGKILL → pending calls rejected after ${
        delays.map((d) => d.toFixed(1)).join(", ")
      } ms`,
    );
    const status = await peer.child.status;
    assert.equal(status.success, false);
    assert.equal(status.signal, "SIGKILL");
    await peer.output;

    // The dead connection was dropped: a new peer on the same port is
    // dialed afresh by the next connect, and the old proxy stays dead.
    const port = Number(new URL(peer.agent).port);
    peer2 = await spawnPeer(port);
    assert.equal(peer2.agent, peer.agent);
    const proxy2 = await container.connect<PeerApi>(peer2.agent);
    assert.equal(await proxy2.add(20, 22), 42);
    await assert.rejects(proxy.add(1, 1), ConnectionClosedError);
    await assert.rejects(client.remote.add(1, 1), ConnectionClosedError);
  } finally {
    await client.close();
    await container.shutdown();
    for (const p of [peer, peer2]) {
      if (p === undefined) continue;
      try {
        p.child.kill("SIGKILL");
      } catch {
        // Exited already.
      }
      await p.child.status;
      await p.output;
    }
  }
});
