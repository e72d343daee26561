// A peer's bad message, or a throwing onSession, fails one session only:
// nats.js reads a whole connection in the loop that calls our callbacks,
// so a throw there would leave every session on it deaf.
import assert from "node:assert/strict";
import { NatsEndpoint, type NatsTransport } from "../../nats/mod.ts";
import { within } from "../_within.ts";
import { NatsServer } from "./_server.ts";
import { connect } from "npm:@nats-io/transport-node@3.4.0";

/**
 * Publishes one message with headers nats.js refuses to parse (a key with a
 * space) from a raw connection, and waits for the server's PONG: the
 * message has been routed by then.
 */
async function publishBadHeader(port: number, subject: string): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const utf8 = new TextEncoder();
    const headers = "NATS/1.0\r\nBad Key: 1\r\n\r\n";
    await conn.write(utf8.encode(
      `CONNECT {"verbose":false,"headers":true,"protocol":1}\r\n` +
        `HPUB ${subject} ${headers.length} ${headers.length}\r\n${headers}\r\nPING\r\n`,
    ));
    const buffer = new Uint8Array(4096);
    let text = "";
    while (!text.includes("PONG")) {
      const n = await conn.read(buffer);
      if (n === null) throw new Error(`nats-server closed: ${text}`);
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
  } finally {
    conn.close();
  }
}

/**
 * Asserts that the session the failing `onSession` got was closed (its end
 * reaches the opener) and that the failure was logged, as the `count`th.
 */
async function assertClosedAndReported(
  opened: NatsTransport,
  errors: unknown[],
  count: number,
): Promise<void> {
  assert.equal(
    await within(10_000, "the end", opened.read(new Uint8Array(16))),
    null,
  );
  assert.equal(errors.length, count);
  assert.match(String((errors[count - 1] as unknown[])[0]), /onSession failed/);
}

async function roundTrip(a: NatsTransport, b: NatsTransport): Promise<string> {
  await a.write(new TextEncoder().encode("ping"));
  const buffer = new Uint8Array(16);
  const n = await b.read(buffer);
  return new TextDecoder().decode(buffer.subarray(0, n ?? 0));
}

Deno.test("NATS: a message whose headers cannot be parsed fails its session only", async () => {
  await using server = await NatsServer.start();
  const nats = { servers: server.url };
  const accepted: NatsTransport[] = [];
  const next: PromiseWithResolvers<void>[] = [];
  await using _serving = await NatsEndpoint.create({
    nats,
    subject: "s",
    onSession: (transport) => {
      accepted.push(transport);
      next.shift()?.resolve();
    },
  });
  await using client = await NatsEndpoint.create({ nats });
  const open = async () => {
    const arrived = Promise.withResolvers<void>();
    next.push(arrived);
    const mine = await client.open("s");
    await arrived.promise;
    return { mine, theirs: accepted.at(-1)! };
  };
  const good = await open();
  const target = await open();
  await publishBadHeader(server.port, target.theirs.subject);
  await assert.rejects(
    within(
      10_000,
      "the session to fail",
      target.theirs.read(new Uint8Array(16)),
    ),
    /^Error: Cannot read a message from .*: /,
  );
  // The other session, and new ones, are still served on that connection
  // (a deaf one would answer none of this).
  const after = async () => {
    assert.equal(await roundTrip(good.mine, good.theirs), "ping");
    assert.equal(await roundTrip(good.theirs, good.mine), "ping");
    const fresh = await open();
    assert.equal(await roundTrip(fresh.mine, fresh.theirs), "ping");
  };
  await within(10_000, "the connection to serve on", after());
});

Deno.test("NATS: an onSession that throws, or whose promise rejects, is reported and closes that session; the endpoint serves on", async () => {
  await using server = await NatsServer.start();
  const nats = { servers: server.url };
  const errors: unknown[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => errors.push(args);
  try {
    let calls = 0;
    const accepted = Promise.withResolvers<NatsTransport>();
    await using _serving = await NatsEndpoint.create({
      nats,
      subject: "s",
      onSession: (transport) => {
        if (++calls === 1) throw new Error("handler bug");
        // As a serving loop fails when its peer ends the session with a
        // reason: not the process.
        if (calls === 2) {
          return Promise.resolve().then(() => {
            throw new Error("the session failed");
          });
        }
        accepted.resolve(transport);
        return undefined;
      },
    });
    await using client = await NatsEndpoint.create({ nats });
    await assertClosedAndReported(await client.open("s"), errors, 1);
    await assertClosedAndReported(await client.open("s"), errors, 2);
    const third = await within(10_000, "a third open", client.open("s"));
    assert.equal(await roundTrip(third, await accepted.promise), "ping");
  } finally {
    console.error = original;
  }
});

Deno.test("NATS: a status listener that throws is reported; the others, and liveness, still see the statuses", async () => {
  const first = await NatsServer.start();
  const port = first.port;
  const errors: unknown[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => errors.push(args);
  let second: NatsServer | undefined;
  try {
    await using endpoint = await NatsEndpoint.create({
      nats: { servers: first.url, reconnectTimeWait: 50 },
    });
    endpoint.onStatus(() => {
      throw new Error("listener bug");
    });
    const reconnected = Promise.withResolvers<void>();
    endpoint.onStatus((status) => {
      if (status.type === "reconnect") reconnected.resolve();
    });
    await first.stop();
    second = await NatsServer.start({ port });
    await within(30_000, "the reconnect", reconnected.promise);
    assert.ok(errors.length >= 1);
    assert.match(
      String((errors[0] as unknown[])[0]),
      /aiomas: a NATS status listener threw:/,
    );
  } finally {
    console.error = original;
    await first.stop();
    await second?.stop();
  }
});

Deno.test("NATS: a peer that says it read more than was sent fails its session (flow control stays on)", async () => {
  await using server = await NatsServer.start();
  const accepted = Promise.withResolvers<NatsTransport>();
  await using _serving = await NatsEndpoint.create({
    nats: { servers: server.url },
    subject: "s",
    onSession: (transport) => accepted.resolve(transport),
  });
  const evil = await connect({ servers: server.url });
  try {
    evil.subscribe("evil.inbox", { callback: () => {} });
    const answer = await evil.request(
      "s",
      JSON.stringify({ op: "open", subject: "evil.inbox", window: 1 << 20 }),
    );
    const to = JSON.parse(new TextDecoder().decode(answer.data)).subject;
    const transport = await accepted.promise;
    // An ACK: sent #0, read 10^15 bytes, of none sent.
    const ack = new Uint8Array(13);
    ack[0] = 3;
    new DataView(ack.buffer).setFloat64(5, 1e15);
    evil.publish(to, ack);
    await evil.flush();
    await assert.rejects(
      within(10_000, "the session's end", transport.read(new Uint8Array(16))),
      /says it read 1000000000000000 bytes, of 0 sent/,
    );
  } finally {
    await evil.close();
  }
});
