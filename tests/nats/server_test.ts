import assert from "node:assert/strict";
import { connect } from "npm:@nats-io/transport-node@3.4.0";
import { NatsCluster, NatsServer } from "./_server.ts";

Deno.test("test helper: a nats-server on a free loopback port, stopped", async () => {
  await using server = await NatsServer.start();
  assert.ok(server.port > 0);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const buffer = new Uint8Array(4);
  assert.equal(await conn.read(buffer), 4);
  assert.equal(new TextDecoder().decode(buffer), "INFO");
  conn.close();
});

Deno.test("test helper: a 3-node cluster whose nodes route to each other", async () => {
  await using cluster = await NatsCluster.start();
  assert.equal(new Set(cluster.urls).size, 3);
});

Deno.test("test helper: waitForInterest gives up on a subject nobody has, sees one subscribed on another node", async () => {
  await using cluster = await NatsCluster.start();
  const [first, , third] = cluster.nodes;
  await assert.rejects(
    first.waitForInterest("late", 200),
    /saw no subscriber of "late" within 200 ms/,
  );
  const nc = await connect({ servers: third.url });
  try {
    nc.subscribe("late", {
      callback: (_error, msg) => {
        msg.respond("here");
      },
    });
    await first.waitForInterest("late");
  } finally {
    await nc.close();
  }
});
