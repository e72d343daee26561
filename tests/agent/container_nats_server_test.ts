// The agent side of `nats://` containers against a real nats-server (each
// test starts its own on a free loopback port and stops it): shutdown gives
// up the name, retry waits for it, a container's own NATS address is
// local, a shared connection stays the user's, references are labelled
// with the sender's name. The calls themselves (codecs, references, dates,
// serializers, failover, a killed process) are in tests/nats/container_test.ts.
import assert from "node:assert/strict";
import { Agent, Container, type DynamicRemote } from "../../agent/mod.ts";
import { ConnectionClosedError } from "../../errors.ts";
import { expose } from "../../rpc/expose.ts";
import { NatsServer } from "../nats/_server.ts";

class Peer extends Agent {
  entered = Promise.withResolvers<void>();

  @expose
  echo(value: unknown): unknown {
    return value;
  }

  /** How a reference passed as an argument prints here. */
  @expose
  describe(agent: DynamicRemote): string {
    return String(agent);
  }

  @expose
  hang(): Promise<never> {
    this.entered.resolve();
    return new Promise<never>(() => {});
  }
}

Deno.test("nats:// container: shutdown gives up the name and fails its peers' calls", async () => {
  await using server = await NatsServer.start();
  const nats = { servers: server.url };
  await using alice = await Container.create("nats://alice", { nats });
  const bob = await Container.create("nats://bob", { nats });
  const callee = new Peer(bob);
  const proxy = await alice.connect<Peer>(callee.addr);
  const pending = proxy.hang();
  await callee.entered.promise;
  await bob.shutdown();
  await assert.rejects(pending, ConnectionClosedError);
  await assert.rejects(alice.connect(callee.addr), /no responders/);
  // The name is free: a new container takes it and is reached.
  await using again = await Container.create("nats://bob", { nats });
  const successor = new Peer(again);
  assert.equal(successor.addr, "nats://bob/0");
  const fresh = await alice.connect<Peer>(successor.addr);
  assert.equal(await fresh.echo("again"), "again");
});

Deno.test("nats:// container: connect with retry waits for the name; without, fails at once", async () => {
  await using server = await NatsServer.start();
  const nats = { servers: server.url };
  await using alice = await Container.create("nats://alice", { nats });
  await assert.rejects(
    alice.connect("nats://late/0"),
    (error: Error) => {
      assert.ok(error instanceof ConnectionClosedError);
      assert.match(error.message, /^Cannot connect to nats:\/\/late\/: /);
      assert.match(error.message, /no responders/);
      return true;
    },
  );
  await assert.rejects(
    alice.connect("nats://never/0", { retry: true, timeout: 200 }),
    { name: "TimeoutError" },
  );
  const waiting = alice.connect<Peer>("nats://late/0", {
    retry: true,
    timeout: 10_000,
  });
  await using late = await Container.create("nats://late", { nats });
  new Peer(late);
  const proxy = await waiting;
  assert.equal(await proxy.echo(1), 1);
});

Deno.test("a container's own NATS address is local; references print with the sender's name", async () => {
  await using server = await NatsServer.start();
  const nats = { servers: server.url };
  await using both = await Container.create("127.0.0.1:0", {
    nats: { ...nats, name: "both" },
  });
  await using alice = await Container.create("nats://alice", { nats });
  const middle = new Peer(both);
  const a = new Peer(alice);
  // Both spellings of its own agents are local proxies (named by `addr`).
  const self = await both.connect<Peer>(`nats://both/${middle.aid}`);
  assert.equal(String(self), `PeerProxy('${middle.addr}')`);
  assert.equal(await self.echo("self"), "self");
  const own = await alice.connect<Peer>("nats://alice/0");
  assert.equal(String(own), "PeerProxy('nats://alice/0')");
  // Over NATS, a reference names the container that sent it.
  const toBoth = await alice.connect<Peer>(`nats://both/${middle.aid}`);
  assert.equal(
    await toBoth.describe(a as never),
    "AgentProxy('nats://alice/0')",
  );
  const toAlice = await both.connect<Peer>(a.addr);
  assert.equal(
    await toAlice.describe(middle as never),
    `AgentProxy('nats://both/${middle.aid}')`,
  );
});

Deno.test("local:// container on NATS too; a shared connection stays open after shutdown", async () => {
  await using server = await NatsServer.start();
  const { connect } = await import("npm:@nats-io/transport-node@3.4.0");
  const nc = await connect({ servers: server.url });
  try {
    const local = await Container.create("local://shared-a", {
      nats: { connection: nc, name: "shared-a" },
    });
    const other = await Container.create("nats://shared-b", {
      nats: { connection: nc },
    });
    const peer = new Peer(local);
    const viaNats = await other.connect<Peer>(`nats://shared-a/${peer.aid}`);
    assert.equal(await viaNats.echo("nats"), "nats");
    const viaLocal = await other.connect<Peer>(peer.addr);
    assert.equal(await viaLocal.echo("local"), "local");
    await Promise.all([local.shutdown(), other.shutdown()]);
    assert.equal(nc.isClosed(), false);
    // Both names are free again.
    await using again = await Container.create("nats://shared-a", {
      nats: { connection: nc },
    });
    assert.equal(again.addr, "nats://shared-a/");
  } finally {
    await nc.close();
  }
});
