// The connection between containers: mutual TLS, a codec mismatch, and
// maxFrameSize.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Container } from "../../agent/mod.ts";
import { MsgPackCodec } from "../../codecs/mod.ts";
import { ConnectionClosedError } from "../../errors.ts";
import { FrameReader, textFrame, writeAll } from "./_wire.ts";
import { Callee, Caller, DAY, LOCAL, portOf } from "./_container_fixtures.ts";

function readTls(name: string): string {
  return Deno.readTextFileSync(
    fileURLToPath(new URL(`../fixtures/tls-agent/${name}`, import.meta.url)),
  );
}

Deno.test("TLS containers: mutual TLS as in aiomas", async (t) => {
  const ca = readTls("ca.pem");
  const tls = {
    cert: readTls("container.pem"),
    key: readTls("container.key"),
    caCerts: [ca],
  };
  await using a = await Container.create(LOCAL, { tls });
  await using b = await Container.create(LOCAL, { tls });
  const callee = new Callee(b);
  const caller = new Caller(a);

  await t.step("calls, references and dates", async () => {
    const proxy = await a.connect<Callee>(callee.addr);
    assert.equal(await proxy.service("secret"), "secret");
    const [pong, date] = await proxy.call_me_back(caller, new Date(0)) as [
      string,
      Date,
    ];
    assert.equal(pong, "pong");
    assert.equal(date.getTime(), DAY);
  });

  await t.step(
    "a container that does not trust the CA cannot connect",
    async () => {
      await using stranger = await Container.create(LOCAL, {
        tls: { ...tls, caCerts: [readTls("other-ca.pem")] },
      });
      await assert.rejects(
        stranger.connect(callee.addr),
        (error: unknown) => {
          assert.ok(error instanceof Deno.errors.InvalidData, String(error));
          assert.match(
            error.message,
            /^TLS handshake with 127\.0\.0\.1:\d+ failed/,
          );
          return true;
        },
      );
    },
  );

  await t.step(
    "a container with a certificate of another CA is refused",
    async () => {
      await using stranger = await Container.create(LOCAL, {
        tls: {
          cert: readTls("other.pem"),
          key: readTls("other.key"),
          caCerts: [ca],
        },
      });
      await assert.rejects(
        stranger.connect(callee.addr),
        ConnectionClosedError,
      );
      // The refusal concerns that connection only.
      const proxy = await a.connect<Callee>(callee.addr);
      assert.equal(await proxy.service("still"), "still");
    },
  );

  await t.step("a client without a certificate is refused", async () => {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: portOf(b.addr),
      caCerts: [ca],
    });
    try {
      const reader = new FrameReader(conn);
      await writeAll(conn, textFrame('[0, 0, ["validate_aid", ["0"], {}]]'));
      await assert.rejects(reader.read(), (error: unknown) => {
        assert.ok(error instanceof Deno.errors.InvalidData, String(error));
        assert.match(error.message, /CertificateRequired/);
        return true;
      });
    } finally {
      conn.close();
    }
  });

  await t.step("a container without TLS cannot connect", async () => {
    await using plain = await Container.create(LOCAL);
    await assert.rejects(plain.connect(callee.addr), ConnectionClosedError);
  });
});

Deno.test("containers with different codecs: connect fails with a message that says what it may be", async () => {
  await using json = await Container.create(LOCAL);
  await using msgpack = await Container.create(LOCAL, { codec: MsgPackCodec });
  const callee = new Callee(json);
  await assert.rejects(msgpack.connect(callee.addr), {
    name: "ConnectionClosedError",
    message:
      /^Connection (closed by|to) 127\.0\.0\.1:\d+ .*before it answered anything \(it may have shut down; if this happens at every first call, it may use another codec than this side's MsgPackCodec or lack one of its serializers\)$/,
  });
});

Deno.test("maxFrameSize: a call above it fails before it is sent, and the connection serves the other agents on", async () => {
  const options = { maxFrameSize: 64 * 1024 };
  await using a = await Container.create(LOCAL, options);
  await using b = await Container.create(LOCAL, options);
  const callee = new Callee(b);
  const other = new Callee(b);
  const proxy = await a.connect<Callee>(callee.addr);
  const otherProxy = await a.connect<Callee>(other.addr);
  const pending = otherProxy.service("in flight");
  await assert.rejects(proxy.service("x".repeat(100_000)), {
    name: "SerializationError",
    message: /above maxFrameSize \(65536 bytes\)/,
  });
  assert.equal(await pending, "in flight");
  assert.equal(await proxy.service("small"), "small");
  // A result above it: the callee's side refuses it, the caller gets an error reply.
  await assert.rejects(proxy.repeat("y", 100_000), {
    name: "RemoteError",
    remoteName: "SerializationError",
  });
  assert.equal(await otherProxy.service("still"), "still");
});

Deno.test("maxFrameSize: a value that is not a whole number from 1 up is a RangeError at create", async () => {
  for (const maxFrameSize of [0, -1, 1.5, NaN]) {
    await assert.rejects(
      Container.create(LOCAL, { maxFrameSize }),
      RangeError,
      "maxFrameSize",
    );
  }
});
