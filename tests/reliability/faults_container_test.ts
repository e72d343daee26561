// Faults: containers shut down mid-call, and a peer process killed with
// SIGKILL mid-call.
import assert from "node:assert/strict";
import {
  Agent,
  ConnectionClosedError,
  Container,
  expose,
  rpc,
} from "../../mod.ts";
import { gate, LOCAL, settled } from "./_faults_helpers.ts";

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
