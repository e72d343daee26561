import assert from "node:assert/strict";
import { Channel } from "../../channel/channel.ts";
import { ConnectionClosedError } from "../../errors.ts";
import { attachNats, natsContainerName } from "../../nats/mod.ts";
import { NatsServer } from "./_server.ts";

Deno.test("attachNats: a name held by a live container is refused; free again once detached", async () => {
  await using server = await NatsServer.start();
  const nats = { servers: server.url };
  const first = await attachNats({ nats, name: "alice", onSession: () => {} });
  await assert.rejects(
    attachNats({ nats, name: "alice", onSession: () => {} }),
    (error: Error) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /nats:\/\/alice\/: the name is taken/);
      return true;
    },
  );
  await first.close();
  await using again = await attachNats({
    nats,
    name: "alice",
    onSession: () => {},
  });
  assert.equal(again.addr, "nats://alice/");
});

Deno.test("attachNats: a wildcard subscriber that answers no claim is named as such, not as a holder of the name", async () => {
  await using server = await NatsServer.start();
  const { connect } = await import("npm:@nats-io/transport-node@3.4.0");
  const monitor = await connect({ servers: server.url });
  try {
    monitor.subscribe("aiomas.>");
    await monitor.flush();
    await assert.rejects(
      attachNats({
        nats: { servers: server.url },
        name: "fresh",
        onSession: () => {},
        timeout: 200,
      }),
      (error: Error) => {
        assert.ok(error instanceof TypeError);
        assert.match(
          error.message,
          /^Cannot attach nats:\/\/fresh\/: no holder answered .*a wildcard such as "aiomas\.>"/,
        );
        return true;
      },
    );
  } finally {
    await monitor.close();
  }
});

Deno.test("attachNats: of containers claiming one name at the same moment, exactly one gets it", async () => {
  await using server = await NatsServer.start();
  const { connect } = await import("npm:@nats-io/transport-node@3.4.0");
  // Connections open before, so that the claims start together.
  const connections = await Promise.all(
    Array.from({ length: 4 }, () => connect({ servers: server.url })),
  );
  try {
    const results = await Promise.allSettled(
      connections.map((nats) =>
        attachNats({ nats, name: "sim-1", onSession: () => {} })
      ),
    );
    const attached = results.flatMap((r) =>
      r.status === "fulfilled" ? [r.value] : []
    );
    assert.equal(attached.length, 1);
    for (const result of results) {
      if (result.status === "rejected") {
        assert.ok(result.reason instanceof TypeError, String(result.reason));
        assert.match(
          result.reason.message,
          /nats:\/\/sim-1\/: the name is taken/,
        );
      }
    }
    await attached[0].close();
  } finally {
    await Promise.all(connections.map((nc) => nc.close()));
  }
});

Deno.test("attachNats: a session from one container to another (the opener named); a missing one fails at once", async () => {
  await using server = await NatsServer.start();
  const nats = { servers: server.url };
  const froms: string[] = [];
  const served: Promise<void>[] = [];
  await using bob = await attachNats({
    nats,
    name: "bob",
    onSession: (transport, from) => {
      froms.push(from);
      const channel = new Channel(transport, { peer: from });
      served.push((async () => {
        for await (const request of channel) {
          await request.reply(`bob got ${request.content}`);
        }
      })());
    },
  });
  await using alice = await attachNats({
    nats,
    name: "alice",
    onSession: () => {},
  });
  const channel = new Channel(await alice.dial("nats://bob/"));
  assert.equal(await channel.send("hi"), "bob got hi");
  assert.deepEqual(froms, ["nats://alice/"]);
  await channel.close();
  await Promise.all(served);
  await assert.rejects(alice.dial("nats://carol/"), (error: Error) => {
    assert.ok(error instanceof ConnectionClosedError);
    assert.match(error.message, /no responders/);
    return true;
  });
  assert.ok(bob.addr === "nats://bob/");
});

Deno.test("natsContainerName: validates addresses", () => {
  assert.equal(natsContainerName("nats://site-1.c_2/"), "site-1.c_2");
  for (
    const bad of [
      "nats://a b/",
      "nats://a.*/",
      "nats://>/",
      "nats:///",
      "tcp://a/",
      "nats://a/0",
    ]
  ) {
    assert.throws(() => natsContainerName(bad), TypeError, bad);
  }
});
