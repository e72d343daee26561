// A NATS server that answers nothing (frozen: SIGSTOP) holds no close and no
// create for long: nats.js's flush waits for as long as it lasts, so the
// library bounds each one and says what did not answer.
import assert from "node:assert/strict";
import { connect } from "npm:@nats-io/transport-node@3.4.0";
import { Container } from "../../agent/mod.ts";
import { connectNats, NatsEndpoint, serveNats } from "../../nats/mod.ts";
import { expose } from "../../rpc/mod.ts";
import { within } from "../_within.ts";
import { NatsServer } from "./_server.ts";

class Echo {
  @expose
  echo(value: unknown): unknown {
    return value;
  }
}

Deno.test("a frozen NATS server: endpoints, RPC servers, clients and containers close within seconds", async () => {
  await using server = await NatsServer.start();
  const nats = { servers: server.url };
  const endpoint = await NatsEndpoint.create({ nats, subject: "plain" });
  const served = await serveNats(new Echo(), { nats, subject: "svc" });
  const client = await connectNats<Echo>("svc", { nats });
  assert.equal(await client.remote.echo(1), 1);
  const container = await Container.create("nats://frozen-closer", { nats });
  await server.freeze();
  try {
    await within(
      10_000,
      "closing over a frozen server",
      Promise.all([
        endpoint.close(),
        served.close(),
        client.close(),
        container.shutdown(),
      ]),
    );
  } finally {
    server.thaw();
  }
});

Deno.test("a frozen NATS server: creating fails with a TimeoutError naming it, not a taken name", async () => {
  await using server = await NatsServer.start();
  const nc = await connect({ servers: server.url });
  try {
    await server.freeze();
    try {
      const noAnswer = {
        name: "TimeoutError",
        message: new RegExp(
          `^Waiting for an answer from the NATS server 127\\.0\\.0\\.1:${server.port} timed out after 200 ms$`,
        ),
      };
      await within(
        5_000,
        "NatsEndpoint.create",
        assert.rejects(
          NatsEndpoint.create({ nats: nc, subject: "s", timeout: 200 }),
          noAnswer,
        ),
      );
      await within(
        5_000,
        "an exclusive NatsEndpoint.create",
        assert.rejects(
          NatsEndpoint.create({
            nats: nc,
            subject: "t",
            exclusive: true,
            timeout: 200,
          }),
          noAnswer,
        ),
      );
      const error = await within(
        10_000,
        "Container.create",
        Container.create("nats://alice", { nats: { connection: nc } }).then(
          () => null,
          (error) => error,
        ),
      );
      assert.ok(error instanceof Error, String(error));
      assert.doesNotMatch(error.message, /taken/);
      assert.match(
        error.message,
        /^Waiting for an answer from the NATS server .* timed out after \d+ ms$/,
      );
    } finally {
      server.thaw();
    }
  } finally {
    await nc.close();
  }
});
