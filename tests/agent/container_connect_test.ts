// Container.connect: one shared connection per peer container, missing agents,
// nobody listening, and dialing again after the peer shut down.
import assert from "node:assert/strict";
import { Container } from "../../agent/mod.ts";
import { ConnectionClosedError } from "../../errors.ts";
import { within } from "../_within.ts";
import { countingAccepts } from "./_wire.ts";
import {
  Callee,
  Caller,
  isLookupError,
  LOCAL,
  Other,
  withTempDir,
} from "./_container_fixtures.ts";

/** A connect to agent 0 at `port` that retries until `giveUp` aborts. */
function retryingConnect(container: Container, port: number) {
  const giveUp = new AbortController();
  const retrying = container.connect(`tcp://127.0.0.1:${port}/0`, {
    retry: true,
    signal: giveUp.signal,
  });
  retrying.catch(() => {});
  return { retrying, giveUp };
}

/** A port nothing listens on: listen on port 0, then close. */
function freePort(): number {
  const listener = Deno.listen(LOCAL);
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

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
  // Port 0 is no container's: said so, naming the address.
  await assert.rejects(a.connect("tcp://127.0.0.1:0/0"), {
    name: "TypeError",
    message:
      /^Cannot connect to tcp:\/\/127\.0\.0\.1:0\/: port 0 is no container's port/,
  });
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

Deno.test("connect: right after the peer shut down, before its end is read, dials again", async () => {
  await using a = await Container.create(LOCAL);
  const b = await Container.create(LOCAL);
  new Callee(b);
  const url = `${b.addr}0`;
  assert.equal(await (await a.connect<Callee>(url)).service(1), 1);
  const port = Number(new URL(b.addr).port);
  await b.shutdown();
  // No call in between: `a` may not have read the connection's end yet.
  await using b2 = await Container.create({ hostname: "127.0.0.1", port });
  new Other(b2);
  const fresh = await a.connect<Other>(url);
  assert.deepEqual(await fresh.service(2), ["other", 2]);
});

Deno.test("connect: a connection of its own dial that the peer closes is not dialed again", async () => {
  // A peer that reads the first request and hangs up (as one with another
  // codec does): one connection, one failure.
  const listener = Deno.listen(LOCAL);
  let accepts = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      accepts++;
      await conn.read(new Uint8Array(1024)).catch(() => null);
      conn.close();
    }
  })();
  try {
    await using a = await Container.create(LOCAL);
    const { port } = listener.addr as Deno.NetAddr;
    await assert.rejects(
      a.connect(`tcp://127.0.0.1:${port}/0`),
      ConnectionClosedError,
    );
    assert.equal(accepts, 1);
  } finally {
    listener.close();
    await serving;
  }
});

Deno.test("connect: without retry it fails at the first refusal even while another connect to that container retries; with retry it does not fail with another's single attempt", async () => {
  const port = freePort();
  await using a = await Container.create(LOCAL);
  const { retrying, giveUp } = retryingConnect(a, port);
  await within(
    5_000,
    "a connect without retry",
    assert.rejects(
      a.connect(`tcp://127.0.0.1:${port}/1`),
      Deno.errors.ConnectionRefused,
    ),
  );
  giveUp.abort();
  await assert.rejects(retrying);
  // The other way round: a single attempt first, then a connect that
  // retries until the container is up.
  await using b = await Container.create(LOCAL);
  const once = b.connect(`tcp://127.0.0.1:${port}/1`);
  once.catch(() => {});
  const later = b.connect(`tcp://127.0.0.1:${port}/0`, {
    retry: true,
    timeout: 20_000,
  });
  await assert.rejects(once, Deno.errors.ConnectionRefused);
  await using peer = await Container.create(`127.0.0.1:${port}`);
  new Callee(peer);
  const proxy = await within(10_000, "the retrying connect", later);
  assert.equal(typeof proxy, "function");
});

Deno.test("connect: without retry, joining a retrying dial after an earlier refusal waits for the next attempt, which may succeed", async () => {
  const port = freePort();
  await using a = await Container.create(LOCAL);
  // Its first attempt is refused (the peer is not up).
  const { retrying, giveUp } = retryingConnect(a, port);
  const once = a.connect(`tcp://127.0.0.1:${port}/1`);
  await assert.rejects(once, Deno.errors.ConnectionRefused);
  await using peer = await Container.create(`127.0.0.1:${port}`);
  new Callee(peer);
  new Callee(peer);
  // Joins the dial that is still retrying: its next attempt connects.
  const later = await within(
    10_000,
    "a connect without retry after the peer came up",
    a.connect(`tcp://127.0.0.1:${port}/1`),
  );
  assert.equal(typeof later, "function");
  assert.equal(typeof await retrying, "function");
  giveUp.abort();
});

/**
 * A TCP relay to `port` whose links can fail the ways a network does:
 * `freeze()` makes those open now go silent for good, without closing
 * them (a peer whose host vanished, a NAT that dropped the flow);
 * `hold()` keeps what every link carries until `release()` (a slow link,
 * not a dead one).
 */
function relay(port: number) {
  const listener = Deno.listen(LOCAL);
  const conns: Deno.Conn[] = [];
  const frozen = new Set<Deno.Conn>();
  let held: PromiseWithResolvers<void> | null = null;
  // Links the caller closed, and who waits for them to be few enough.
  let ended = 0;
  const waiters: { most: number; resolve: () => void }[] = [];
  const pipes: Promise<void>[] = [];
  const pipe = async (from: Deno.Conn, to: Deno.Conn, owner: Deno.Conn) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (
        let n = await from.read(buffer);
        n !== null;
        n = await from.read(buffer)
      ) {
        const chunk = buffer.slice(0, n);
        while (held !== null) await held.promise;
        if (!frozen.has(owner)) await to.write(chunk);
      }
    } catch {
      // Closed.
    }
    if (from === owner) {
      ended++;
      for (const waiter of [...waiters]) {
        if (conns.length / 2 - ended <= waiter.most) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      const upstream = await Deno.connect({ ...LOCAL, port });
      conns.push(conn, upstream);
      pipes.push(pipe(conn, upstream, conn), pipe(upstream, conn, conn));
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    accepted: () => conns.length / 2,
    /** Settles once at most `most` links are open (not closed by the caller). */
    openAtMost: (most: number): Promise<void> => {
      if (conns.length / 2 - ended <= most) return Promise.resolve();
      const { promise, resolve } = Promise.withResolvers<void>();
      waiters.push({ most, resolve });
      return promise;
    },
    freeze: () => conns.forEach((conn) => frozen.add(conn)),
    hold: () => held ??= Promise.withResolvers(),
    release: () => {
      held?.resolve();
      held = null;
    },
    async close() {
      listener.close();
      await accepting;
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Closed by its other end's pipe.
        }
      }
      await Promise.all(pipes);
    },
  };
}

Deno.test("Container.connect: a shared connection that went silent is not handed out again once a connect timed out on it", async () => {
  await using b = await Container.create(LOCAL);
  const callee = new Callee(b);
  const port = Number(/:(\d+)\/$/.exec(b.addr)![1]);
  const link = relay(port);
  const a = await Container.create(LOCAL);
  try {
    const url = `tcp://127.0.0.1:${link.port}/${callee.aid}`;
    const first = await a.connect<Callee>(url);
    assert.equal(await first.service(1), 1);
    link.freeze();
    await assert.rejects(a.connect(url, { timeout: 200 }), {
      name: "TimeoutError",
    });
    // Dialed anew: answered over a second connection.
    const second = await a.connect<Callee>(url, { timeout: 5000 });
    assert.equal(await second.service(2), 2);
    assert.equal(link.accepted(), 2);
  } finally {
    await a.shutdown();
    await link.close();
  }
});

Deno.test("Container.connect: connects that keep timing out on a silent peer hold at most two connections to it", async () => {
  // Accepts and never answers; counts the connections the caller closes.
  const listener = Deno.listen(LOCAL);
  const conns: Deno.Conn[] = [];
  let ended = 0;
  let enough = Promise.withResolvers<void>();
  const draining: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      draining.push((async () => {
        const buffer = new Uint8Array(1024);
        try {
          while (await conn.read(buffer) !== null);
        } catch {
          // Reset.
        }
        ended++;
        if (conns.length - ended <= 2) enough.resolve();
      })());
    }
  })();
  const a = await Container.create(LOCAL);
  try {
    const url = `tcp://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/0`;
    for (let i = 0; i < 10; i++) {
      await assert.rejects(a.connect(url, { timeout: 50 }), {
        name: "TimeoutError",
      });
      if (conns.length - ended > 2) {
        enough = Promise.withResolvers<void>();
        await within(5000, "a connection closed", enough.promise);
      }
    }
    assert.ok(conns.length >= 3, `${conns.length} connections`);
  } finally {
    await a.shutdown();
    listener.close();
    await accepting;
    for (const conn of conns) conn.close();
    await Promise.all(draining);
  }
});

Deno.test("Container.connect: connects that time out on a slow but live link do not close a connection that answered since, and keep at most two such", async () => {
  await using b = await Container.create(LOCAL);
  const callee = new Callee(b);
  const link = relay(Number(/:(\d+)\/$/.exec(b.addr)![1]));
  const a = await Container.create(LOCAL);
  try {
    const url = `tcp://127.0.0.1:${link.port}/${callee.aid}`;
    const first = await a.connect<Callee>(url);
    for (let round = 1; round <= 2; round++) {
      link.hold();
      await assert.rejects(a.connect(url, { timeout: 100 }), {
        name: "TimeoutError",
      });
      link.release();
      // Live: the first connection answers (round 2: it was not closed).
      assert.equal(await first.service(round), round);
      // Dialed anew, shared until the next round drops it.
      const again = await a.connect<Callee>(url, { timeout: 5000 });
      assert.equal(await again.service(-round), -round);
    }
    // Four more rounds: the shared one and two dropped stay, the rest close.
    for (let round = 3; round <= 6; round++) {
      link.hold();
      await assert.rejects(a.connect(url, { timeout: 100 }), {
        name: "TimeoutError",
      });
      link.release();
      await a.connect(url, { timeout: 5000 });
    }
    assert.equal(link.accepted(), 7);
    await within(5000, "links closed", link.openAtMost(3));
  } finally {
    await a.shutdown();
    await link.close();
  }
});

Deno.test("connect: to an agent of the container itself, an aborted signal rejects as it does for a peer", async () => {
  await using container = await Container.create(LOCAL);
  const callee = new Callee(container);
  const reason = new DOMException("gave up", "AbortError");
  await assert.rejects(
    container.connect(callee.addr, { signal: AbortSignal.abort(reason) }),
    (error) => error === reason,
  );
  // Not aborted: the proxy.
  const proxy = await container.connect<Callee>(callee.addr, {
    signal: new AbortController().signal,
  });
  assert.ok(String(proxy).includes(callee.addr));
});
