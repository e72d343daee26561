import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  attachNats,
  connectNats,
  NatsEndpoint,
  serveNats,
} from "../../nats/mod.ts";
import { Channel } from "../../channel/channel.ts";
import { ServiceDict } from "../../rpc/service_dict.ts";
import { connect } from "npm:@nats-io/transport-node@3.4.0";
import { NatsServer } from "./_server.ts";

const fixture = (name: string) =>
  fileURLToPath(new URL(`../fixtures/tls/${name}`, import.meta.url));

// A server that refuses a client (bad credentials) closes its socket; under
// Deno's Node compatibility nats.js may then meet ECONNRESET while its
// socket has no error listener (while connecting or closing), which would
// be an uncaught error. Seen once in a loaded run: only that is ignored.
globalThis.addEventListener("error", (event) => {
  if ((event.error as { code?: string } | null)?.code === "ECONNRESET") {
    event.preventDefault();
  }
});

const ECHO = new ServiceDict({ echo: (value: unknown) => value });

/**
 * A user who may subscribe only to its own name and its own inboxes, and
 * publish only to names and inboxes (the fence of docs/nats.md).
 */
function fencedUser(name: string): string {
  return `{
    user: ${name}, password: pw,
    permissions: {
      publish: { allow: ["aiomas.>", "_INBOX.>"] },
      subscribe: { allow: ["aiomas.${name}", "_INBOX.${name}.>"] }
    }
  }`;
}

/**
 * A nats-server with these `accounts`, and the connection options of a
 * user of them (password "pw", inboxes under `_INBOX.<user>`); stopped,
 * and its configuration file removed, when disposed.
 */
async function fencedServer(accounts: string) {
  const config = await Deno.makeTempFile({ suffix: ".conf" });
  try {
    await Deno.writeTextFile(config, `accounts { ${accounts} }`);
    const server = await NatsServer.start({ args: ["-c", config] });
    return {
      server,
      as: (name: string) => ({
        servers: server.url,
        user: name,
        pass: "pw",
        inboxPrefix: `_INBOX.${name}`,
      }),
      async [Symbol.asyncDispose]() {
        await server.stop();
        await Deno.remove(config);
      },
    };
  } catch (error) {
    await Deno.remove(config);
    throw error;
  }
}

Deno.test("NATS user/password pass through; a wrong password is refused", async () => {
  await using server = await NatsServer.start({
    args: ["--user", "sim", "--pass", "s3cret"],
  });
  const nats = { servers: server.url, user: "sim", pass: "s3cret" };
  await using _service = await serveNats(ECHO, { nats, subject: "svc" });
  await using client = await connectNats<{ echo(v: string): string }>("svc", {
    nats,
  });
  assert.equal(await client.remote.echo("in"), "in");
  await assert.rejects(
    connectNats("svc", {
      nats: { ...nats, pass: "wrong", maxReconnectAttempts: 0 },
    }),
    /Authorization/i,
  );
});

Deno.test("NATS token passes through", async () => {
  await using server = await NatsServer.start({ args: ["--auth", "t0ken"] });
  const nats = { servers: server.url, token: "t0ken" };
  await using _service = await serveNats(ECHO, { nats, subject: "svc" });
  await using client = await connectNats<{ echo(v: string): string }>("svc", {
    nats,
  });
  assert.equal(await client.remote.echo("in"), "in");
  await assert.rejects(
    connectNats("svc", {
      nats: { servers: server.url, token: "nope", maxReconnectAttempts: 0 },
    }),
    /Authorization/i,
  );
});

Deno.test("NATS over TLS: the client trusts the test CA", async () => {
  await using server = await NatsServer.start({
    args: [
      "--tls",
      "--tlscert",
      fixture("server.pem"),
      "--tlskey",
      fixture("server.key"),
    ],
  });
  const nats = {
    servers: `tls://127.0.0.1:${server.port}`,
    tls: { caFile: fixture("ca.pem") },
  };
  await using _service = await serveNats(ECHO, { nats, subject: "svc" });
  await using client = await connectNats<{ echo(v: string): string }>("svc", {
    nats,
  });
  assert.equal(await client.remote.echo("secure"), "secure");
});

Deno.test("NATS permissions fence containers: own name and inbox prefix only; another account sees nothing", async () => {
  const sim = ["alice", "bob", "eve"].map(fencedUser).join(", ");
  await using fenced = await fencedServer(
    `SIM { users = [${sim}] }\nOTHER { users = [{ user: mallory, password: pw }] }`,
  );
  const { server, as } = fenced;
  const served = Promise.withResolvers<string>();
  await using _bob = await attachNats({
    nats: as("bob"),
    name: "bob",
    onSession: (transport, from) => {
      const channel = new Channel(transport);
      channel.recv().then(async (request) => {
        await request.reply("hi");
        await channel.close();
        served.resolve(from);
      });
    },
  });
  await using alice = await attachNats({
    nats: as("alice"),
    name: "alice",
    onSession: () => {},
  });
  const channel = new Channel(await alice.dial("nats://bob/"));
  assert.equal(await channel.send("hello"), "hi");
  assert.equal(await served.promise, "nats://alice/");
  await channel.close();
  // Eve, on the same account, may not take a name that is not hers
  // (the server refuses the subscription).
  await assert.rejects(
    attachNats({ nats: as("eve"), name: "carol", onSession: () => {} }),
    /Cannot accept sessions on "aiomas\.carol": .*Permissions Violation/i,
  );
  // Mallory, on another account, does not see the containers at all.
  await using mallory = await NatsEndpoint.create({
    nats: { servers: server.url, user: "mallory", pass: "pw" },
  });
  await assert.rejects(mallory.open("aiomas.bob"), /no responders/);
});

Deno.test("NATS permissions fence: a user who may only publish on a name cannot keep it from its owner with forged claims", async () => {
  await using fenced = await fencedServer(
    `SIM { users = [${fencedUser("alice")}, ${fencedUser("eve")}] }`,
  );
  const { as } = fenced;
  // Claims to have come back to the name, with the lowest id there is.
  const eve = await connect(as("eve"));
  const forged = JSON.stringify({
    op: "claim",
    id: "",
    name: "nats://nobody/",
    again: true,
  });
  const flood = setInterval(
    () => eve.publish("aiomas.alice", forged, { reply: "_INBOX.eve.sink" }),
    1,
  );
  try {
    await using alice = await attachNats({
      nats: as("alice"),
      name: "alice",
      onSession: () => {},
    });
    assert.equal(alice.addr, "nats://alice/");
  } finally {
    clearInterval(flood);
    await eve.close();
  }
});
