// Faults: graceful shutdown with calls in flight, handlers that never
// finish, and peers that stop reading while their writes are stuck.
import assert from "node:assert/strict";
import {
  ConnectionClosedError,
  expose,
  ProtocolError,
  rpc,
} from "../../mod.ts";
import { frame, writeAll } from "./_fuzz.ts";
import { gate, LOCAL, settled } from "./_faults_helpers.ts";

type Addr = { hostname: string; port: number };
const utf8 = new TextEncoder();

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
