// The session protocol's edges: the two sides agree on the window, a CLOSE
// says how many data messages came before it, and a peer's close reason is
// cut as any peer text is.
import assert from "node:assert/strict";
import { NatsEndpoint, type NatsTransport } from "../../nats/mod.ts";
import { within } from "../_within.ts";
import { NatsServer } from "./_server.ts";

const utf8 = new TextEncoder();

/** An endpoint accepting on "s" that hands over its sessions. */
async function serving(server: NatsServer, window?: number) {
  const sessions: NatsTransport[] = [];
  const waiting: PromiseWithResolvers<NatsTransport>[] = [];
  const endpoint = await NatsEndpoint.create({
    nats: { servers: server.url },
    subject: "s",
    window,
    onSession: (transport) => {
      const waiter = waiting.shift();
      if (waiter !== undefined) waiter.resolve(transport);
      else sessions.push(transport);
    },
  });
  return {
    endpoint,
    next(): Promise<NatsTransport> {
      const session = sessions.shift();
      if (session !== undefined) return Promise.resolve(session);
      const waiter = Promise.withResolvers<NatsTransport>();
      waiting.push(waiter);
      return waiter.promise;
    },
  };
}

/**
 * Opens a session on "s" by hand, as a peer that speaks the session wire
 * itself: returns the server side's subject.
 */
async function rawSession(client: NatsEndpoint): Promise<string> {
  const nc = client.connection;
  const inbox = `_INBOX.raw${crypto.randomUUID().replaceAll("-", "")}`;
  nc.subscribe(inbox, { callback: () => {} });
  const reply = await nc.request(
    "s",
    JSON.stringify({ op: "open", from: "raw", subject: inbox }),
    { timeout: 5000 },
  );
  return JSON.parse(new TextDecoder().decode(reply.data)).subject;
}

function dataMessage(seq: number, text: string): Uint8Array {
  const bytes = utf8.encode(text);
  const message = new Uint8Array(5 + bytes.length);
  new DataView(message.buffer).setUint32(1, seq);
  message.set(bytes, 5);
  return message;
}

function closeMessage(sent: number, reason: string): Uint8Array {
  const bytes = utf8.encode(reason);
  const message = new Uint8Array(5 + bytes.length);
  message[0] = 4;
  new DataView(message.buffer).setUint32(1, sent);
  message.set(bytes, 5);
  return message;
}

async function readAll(transport: NatsTransport): Promise<string> {
  const buffer = new Uint8Array(64 * 1024);
  let text = "";
  for (let n; (n = await transport.read(buffer)) !== null;) {
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  return text;
}

Deno.test("NATS: concurrent writes keep to the receiver's smaller window instead of being cut off", async () => {
  await using server = await NatsServer.start();
  const small = 64 * 1024;
  const accepting = await serving(server, small);
  await using _ = accepting.endpoint;
  // The opener's own window is the default, 4 MiB.
  await using client = await NatsEndpoint.create({
    nats: { servers: server.url },
  });
  const mine = await client.open("s");
  const theirs = await accepting.next();
  const chunk = new Uint8Array(1024 * 1024).fill(120);
  // Nobody reads yet: the writes wait at the receiver's 64 KiB. Several at
  // once, all woken by the same ack: each must check again before it sends.
  const writes = within(
    30_000,
    "the writes",
    Promise.all(Array.from({ length: 6 }, () => mine.write(chunk))),
  );
  writes.catch(() => {});
  let read = 0;
  const buffer = new Uint8Array(64 * 1024);
  while (read < 6 * chunk.length) {
    const n = await within(30_000, "a read", theirs.read(buffer));
    assert.notEqual(n, null, `the session ended after ${read} bytes`);
    read += n!;
  }
  await writes;
  assert.equal(read, 6 * chunk.length);
});

Deno.test("NATS: a CLOSE after data messages that never came fails the session rather than ending it cleanly", async () => {
  await using server = await NatsServer.start();
  const accepting = await serving(server);
  await using _ = accepting.endpoint;
  await using client = await NatsEndpoint.create({
    nats: { servers: server.url },
  });
  for (const [sent, outcome] of [[1, "clean"], [2, "lost"]] as const) {
    const to = await rawSession(client);
    const theirs = await accepting.next();
    client.connection.publish(to, dataMessage(1, "part1;"));
    // Message #2 is lost (e.g. a failover) when the CLOSE says 2 came.
    client.connection.publish(to, closeMessage(sent, ""));
    const result = await within(
      10_000,
      "the end",
      readAll(theirs).then((text) => `read ${text}`, (e: Error) => e.message),
    );
    if (outcome === "clean") assert.equal(result, "read part1;");
    else {
      assert.equal(
        result,
        "Messages from raw were lost (it ended after #2, got up to #1), e.g. in a NATS server failover",
      );
    }
  }
});

Deno.test("NATS: a peer's close reason is cut as peer text is", async () => {
  await using server = await NatsServer.start();
  const accepting = await serving(server);
  await using _ = accepting.endpoint;
  await using client = await NatsEndpoint.create({
    nats: { servers: server.url },
  });
  const to = await rawSession(client);
  const theirs = await accepting.next();
  client.connection.publish(to, closeMessage(0, "r".repeat(100_000)));
  await assert.rejects(
    within(10_000, "the end", theirs.read(new Uint8Array(16))),
    (error: Error) => {
      assert.equal(
        error.message,
        `raw ended the session: ${"r".repeat(200)}… (100000 characters)`,
      );
      return true;
    },
  );
});
