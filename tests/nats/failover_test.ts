import assert from "node:assert/strict";
import { ConnectionClosedError } from "../../errors.ts";
import { connectNats, type NatsStatus, serveNats } from "../../nats/mod.ts";
import { ServiceDict } from "../../rpc/service_dict.ts";
import { NatsCluster } from "./_server.ts";

Deno.test("3-node cluster: the client's node is killed mid-stream; calls complete or reject, none hangs; new calls succeed", async () => {
  await using cluster = await NatsCluster.start();
  const [first, second, third] = cluster.nodes;
  await using _server = await serveNats(
    new ServiceDict({ echo: (value: unknown) => value }),
    { nats: { servers: third.url }, subject: "failover" },
  );
  await using client = await connectNats<{ echo(v: number): number }>(
    "failover",
    {
      nats: {
        servers: [first.url, second.url],
        noRandomize: true,
        reconnectTimeWait: 100,
      },
    },
  );
  const events: NatsStatus["type"][] = [];
  const reconnected = Promise.withResolvers<number>();
  client.endpoint.onStatus((status) => {
    events.push(status.type);
    if (status.type === "reconnect") reconnected.resolve(performance.now());
  });
  // The server subscribed on the third node; the client's node learns of
  // it over a route a little later.
  await first.waitForInterest("failover");
  assert.equal(await client.remote.echo(1), 1);

  // 16 calls in flight at all times until the kill, then until the
  // reconnection.
  const settled: PromiseSettledResult<number>[] = [];
  // Settles at the 200th settled call: the stream is under way.
  const streaming = Promise.withResolvers<void>();
  const record = (outcome: PromiseSettledResult<number>) => {
    settled.push(outcome);
    if (settled.length === 200) streaming.resolve();
  };
  let stop = false;
  let sent = 0;
  const lanes = Array.from({ length: 16 }, async () => {
    while (!stop) {
      const value = sent++;
      try {
        const answer = await client.remote.echo(value);
        assert.equal(answer, value);
        record({ status: "fulfilled", value: answer });
      } catch (error) {
        record({ status: "rejected", reason: error });
      }
    }
  });
  await streaming.promise;
  const killedAt = performance.now();
  await first.stop();
  const reconnectAt = await reconnected.promise;
  // Every call is answered or rejected: the lanes end.
  const deadline = setTimeout(() => {
    throw new Error("calls still pending 5 s after the reconnection");
  }, 5000);
  stop = true;
  await Promise.all(lanes);
  const lanesDone = performance.now();
  clearTimeout(deadline);
  for (const outcome of settled) {
    if (outcome.status === "rejected") {
      assert.ok(
        outcome.reason instanceof ConnectionClosedError,
        String(outcome.reason),
      );
    }
  }
  // New calls succeed after the reconnection (once the client's new node
  // has the server's subscription too).
  await second.waitForInterest("failover");
  const answered = performance.now();
  assert.equal(await client.remote.echo(-1), -1);
  const done = performance.now();
  assert.ok(events.includes("disconnect"), events.join());
  assert.ok(client.endpoint.connection.getServer().endsWith(`:${second.port}`));
  const rejected = settled.filter((s) => s.status === "rejected").length;
  if (Deno.env.get("NATS_TIMINGS")) {
    console.log(
      `reconnect after ${
        (reconnectAt - killedAt).toFixed(0)
      } ms, calls in flight settled after ${
        (lanesDone - killedAt).toFixed(0)
      } ms, next call ${
        (done - answered).toFixed(0)
      } ms; ${settled.length} calls, ${rejected} rejected`,
    );
  }
});
