import assert from "node:assert/strict";
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
