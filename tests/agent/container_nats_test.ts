// The agent side of `nats://` containers that needs no NATS server: the
// options are checked before nats.js is loaded or anything is opened, a
// container off NATS says so when asked for a nats:// agent, and a failed
// attach leaves nothing behind. Calls over a real nats-server are in
// tests/nats/container_test.ts.
import assert from "node:assert/strict";
import { Agent, Container, type ContainerOptions } from "../../agent/mod.ts";
import { ConnectionClosedError } from "../../errors.ts";

class Idle extends Agent {}

/** A loopback port nothing listens on (bound, then released). */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test("Container.create: nats:// options are checked before anything opens", async () => {
  const nats = { servers: "127.0.0.1:4222" };
  const invalid: [unknown, ContainerOptions | undefined, RegExp][] = [
    ["nats://alice", undefined, /a NATS address needs options\.nats/],
    ["nats://alice", {}, /a NATS address needs options\.nats/],
    [
      "nats://alice/",
      { nats: { ...nats, name: "bob" } },
      /"bob" is another name/,
    ],
    ["nats://a b", { nats }, /Invalid NATS address "nats:\/\/a b"/],
    ["nats://", { nats }, /Invalid NATS address/],
    ["nats://a/b", { nats }, /Invalid NATS address/],
    ["nats://a.*", { nats }, /Invalid NATS address/],
    ["127.0.0.1:0", { nats }, /options\.nats\.name is missing/],
    [
      "local://l",
      { nats: { ...nats, name: "a>" } },
      /Invalid NATS container name "a>"/,
    ],
    [
      "nats://alice",
      { nats: null as unknown as ContainerOptions["nats"] },
      /options\.nats must be an object/,
    ],
    [
      "nats://alice",
      { nats: { connection: {} as never } },
      /options\.nats\.connection must be an open nats\.js connection/,
    ],
    [
      "nats://alice",
      { nats: { ...nats, onStatus: "log" as never } },
      /options\.nats\.onStatus must be a function, got string/,
    ],
  ];
  for (const [addr, options, message] of invalid) {
    await assert.rejects(
      Container.create(addr as string, options),
      (error: Error) => {
        assert.ok(error instanceof TypeError, `${addr}: ${error}`);
        assert.match(error.message, message);
        return true;
      },
    );
  }
  for (
    const session of [
      { heartbeat: 0 },
      { heartbeat: Infinity },
      { timeout: -1 },
      { timeout: NaN },
      { window: 1.5 },
      { window: "1" as unknown as number },
    ]
  ) {
    await assert.rejects(
      Container.create("nats://alice", { nats: { ...nats, session } }),
      RangeError,
    );
  }
  await assert.rejects(
    Container.create("nats://alice", { nats: { ...nats, maxSessions: 0 } }),
    /Invalid options\.nats\.maxSessions 0/,
  );
  // Nothing was left listening under the local name.
  await using local = await Container.create("local://l");
  assert.equal(local.addr, "local://l/");
});

Deno.test("Container.connect: a container off NATS cannot call nats:// agents", async () => {
  await using container = await Container.create("local://off-nats");
  await assert.rejects(
    container.connect("nats://elsewhere/0"),
    (error: Error) => {
      assert.ok(error instanceof ConnectionClosedError);
      assert.match(
        error.message,
        /nats:\/\/elsewhere\/: this container is not on NATS/,
      );
      return true;
    },
  );
  await assert.rejects(container.connect("nats://bad name/0"), TypeError);
});

Deno.test("Container.create: NATS out of reach releases the TCP port and the local name", async () => {
  const nats = {
    servers: `127.0.0.1:${closedPort()}`,
    reconnect: false,
    timeout: 2000,
  };
  const port = closedPort();
  await assert.rejects(
    Container.create(`127.0.0.1:${port}`, { nats: { ...nats, name: "tcp" } }),
  );
  await assert.rejects(
    Container.create("local://again", { nats: { ...nats, name: "local" } }),
  );
  // Both are free again.
  await using tcp = await Container.create(`127.0.0.1:${port}`);
  await using local = await Container.create("local://again");
  new Idle(tcp);
  assert.equal(local.addr, "local://again/");
});
