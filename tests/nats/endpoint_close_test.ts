// Opening and closing around each other: a session opened on a closed
// connection or by an endpoint closed meanwhile fails with a
// ConnectionClosedError that names the subject, and a server that is
// closing takes no new sessions.
import assert from "node:assert/strict";
import { connect } from "npm:@nats-io/transport-node@3.4.0";
import { ConnectionClosedError } from "../../errors.ts";
import {
  connectNats,
  NatsEndpoint,
  type NatsTransport,
  serveNats,
} from "../../nats/mod.ts";
import { ServiceDict } from "../../rpc/service_dict.ts";
import { NatsServer } from "./_server.ts";

function closed(message: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof ConnectionClosedError, String(error));
    assert.equal(error.message, message);
    return true;
  };
}

Deno.test("NatsEndpoint.open on a closed NATS connection: a ConnectionClosedError naming the subject", async () => {
  await using server = await NatsServer.start();
  const nc = await connect({ servers: server.url });
  const endpoint = await NatsEndpoint.create({ nats: nc });
  await nc.close();
  await assert.rejects(
    endpoint.open("s"),
    closed('Cannot open a NATS session on "s": the NATS connection is closed'),
  );
  await endpoint.close();
});

Deno.test("NatsEndpoint.open while the endpoint closes: rejected, and the peer's side is told", async () => {
  await using server = await NatsServer.start();
  const nats = { servers: server.url };
  const accepted = Promise.withResolvers<NatsTransport>();
  await using serving = await NatsEndpoint.create({
    nats,
    subject: "s",
    onSession: (transport) => accepted.resolve(transport),
  });
  const nc = await connect(nats);
  try {
    const client = await NatsEndpoint.create({ nats: nc });
    const opening = assert.rejects(
      client.open("s"),
      closed(
        'Cannot open a NATS session on "s": the endpoint was closed meanwhile',
      ),
    );
    await client.close();
    await opening;
    // A clean end, not a wait for the pings to fail.
    assert.equal(await (await accepted.promise).read(new Uint8Array(8)), null);
    assert.ok(serving);
  } finally {
    await nc.close();
  }
});

Deno.test("NatsEndpoint.close on a connection it shares ends an open that waits for an answer at once, not at its timeout", async () => {
  await using server = await NatsServer.start();
  const nc = await connect({ servers: server.url });
  try {
    // Something that subscribes to the subject and never answers.
    const silent = nc.subscribe("quiet", { callback: () => {} });
    await nc.flush();
    const client = await NatsEndpoint.create({ nats: nc });
    const opening = assert.rejects(
      client.open("quiet", { timeout: 600_000 }),
      closed(
        'Cannot open a NATS session on "quiet": the endpoint was closed meanwhile',
      ),
    );
    await client.close();
    await opening;
    silent.unsubscribe();
  } finally {
    // nats.js's request timer goes with the connection.
    await nc.close();
  }
});

Deno.test("NatsRpcServer.close stops accepting first: a new client finds nobody while calls are served", async () => {
  await using server = await NatsServer.start();
  const nats = { servers: server.url };
  const started = Promise.withResolvers<void>();
  const gate = Promise.withResolvers<void>();
  const serving = await serveNats(
    new ServiceDict({
      slow: async () => {
        started.resolve();
        await gate.promise;
        return "slow ok";
      },
    }),
    { nats, subject: "svc" },
  );
  await using client = await connectNats("svc", { nats });
  const slow = client.call("slow");
  await started.promise;
  const closing = serving.close({ timeout: 60_000 });
  // The server has the unsubscription before the next hello.
  await serving.endpoint.connection.flush().catch(() => {});
  await assert.rejects(
    connectNats("svc", { nats }),
    closed(
      'Cannot open a NATS session on "svc": nobody listens there (no responders)',
    ),
  );
  gate.resolve();
  assert.equal(await slow, "slow ok");
  await closing;
});
