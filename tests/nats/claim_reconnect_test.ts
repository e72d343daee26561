// A container's name while its holder's NATS connection is away: another
// container may take the name meanwhile; when the first is back, exactly one
// keeps it, and the other stops answering it and says why. The holder's
// connection goes through a TCP proxy that the tests cut and restore.
import assert from "node:assert/strict";
import {
  attachNats,
  type NatsAttachment,
  NatsEndpoint,
  type NatsStatus,
  type NatsTransport,
} from "../../nats/mod.ts";
import { connect } from "npm:@nats-io/transport-node@3.4.0";
import { Agent, Container } from "../../agent/mod.ts";
import { expose } from "../../rpc/mod.ts";
import { within } from "../_within.ts";
import { NatsServer } from "./_server.ts";
import { TcpProxy } from "./_tcp_proxy.ts";

/** Reconnects soon and for ever, through `proxy`. */
function through(proxy: TcpProxy) {
  return {
    servers: proxy.url,
    reconnectTimeWait: 20,
    reconnectJitter: 0,
    maxReconnectAttempts: -1,
  };
}

/** The first status event of `type` from now on. */
function next(
  attachment: NatsAttachment,
  type: string,
): Promise<NatsStatus> {
  const { promise, resolve } = Promise.withResolvers<NatsStatus>();
  const stop = attachment.onStatus((status) => {
    if (status.type !== type) return;
    stop();
    resolve(status);
  });
  return promise;
}

/** Every `error` status event of `attachment`. */
function errorsOf(attachment: NatsAttachment): NatsStatus[] {
  const errors: NatsStatus[] = [];
  attachment.onStatus((status) => {
    if (status.type === "error") errors.push(status);
  });
  return errors;
}

/**
 * Takes the holder's connection down; settles once the holder saw it
 * (`disconnected`, its next "disconnect" status) and the server dropped it.
 */
async function cut(
  server: NatsServer,
  proxy: TcpProxy,
  disconnected: Promise<unknown>,
): Promise<void> {
  const ports = await proxy.cut();
  assert.equal(ports.length, 1);
  await within(5000, "the disconnect", disconnected);
  // Until then the server would still route the other's claim to it.
  await within(
    5000,
    "the server dropping the connection",
    server.waitForMatch(
      new RegExp(
        `127\\.0\\.0\\.1:${
          ports[0]
        } - cid:\\d+ - [^\\n]*Client connection closed`,
      ),
    ),
  );
}

/** console.error's lines meanwhile (and not on the test's output). */
async function capturingErrors(
  run: (lines: string[]) => Promise<void>,
): Promise<void> {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    await run(lines);
  } finally {
    console.error = original;
  }
}

/** An agent that tells which container it is in. */
class Named extends Agent {
  #name: string;

  constructor(container: Container, name: string) {
    super(container);
    this.#name = name;
  }

  @expose
  name(): string {
    return this.#name;
  }
}

const LOST_TWIN =
  /^Lost NATS subject "aiomas\.twin": another holder \(nats:\/\/twin\/\) kept it: it held the subject on NATS while this endpoint's connection was down, and a holder that stayed keeps it\. This endpoint stopped accepting sessions there and failed the 1 it had accepted$/;

Deno.test("a holder away from NATS while another took its name: when it is back, the other keeps the name, and the first stops answering it, fails its sessions and says why", async () => {
  const server = await NatsServer.start({ args: ["-D"] });
  const proxy = TcpProxy.start(server.port);
  const closing: { close(): Promise<void> }[] = [];
  try {
    await capturingErrors(async (logged) => {
      const servedBy: string[] = [];
      const firstSessions: NatsTransport[] = [];
      const first = await attachNats({
        nats: through(proxy),
        name: "twin",
        onSession: (transport) => {
          servedBy.push("first");
          firstSessions.push(transport);
        },
      });
      closing.push(first);
      // It pings seldom: its session to the first outlives the outage.
      const client = await NatsEndpoint.create({
        nats: { servers: server.url },
        heartbeat: 60_000,
        timeout: 120_000,
      });
      closing.push(client);
      const early = await client.open("aiomas.twin");
      assert.deepEqual(servedBy, ["first"]);

      await cut(server, proxy, next(first, "disconnect"));
      const second = await attachNats({
        nats: { servers: server.url },
        name: "twin",
        onSession: (transport) => {
          servedBy.push("second");
          transport.close();
        },
      });
      closing.push(second);
      const secondErrors = errorsOf(second);

      const reconnected = next(first, "reconnect");
      const lost = next(first, "error");
      proxy.restore();
      await within(5000, "the reconnection", reconnected);
      const event = await within(5000, "the lost name", lost);

      assert.equal(event.subject, "aiomas.twin");
      assert.ok(event.error instanceof Error);
      assert.match(event.error.message, LOST_TWIN);
      assert.equal(logged.length, 1);
      assert.match(logged[0], /^aiomas: Lost NATS subject "aiomas\.twin"/);
      assert.equal(logged[0], `aiomas: ${event.error.message}`);
      // Its accepted session failed, on both sides, naming the reason.
      await assert.rejects(
        firstSessions[0].read(new Uint8Array(8)),
        /^Error: Lost NATS subject "aiomas\.twin": another holder/,
      );
      await assert.rejects(
        within(5000, "the client's read", early.read(new Uint8Array(8))),
        /ended the session: Lost NATS subject "aiomas\.twin": another holder/,
      );
      // Every new session goes to the holder that stayed.
      for (let i = 0; i < 8; i++) (await client.open("aiomas.twin")).close();
      assert.deepEqual(servedBy, ["first", ...Array(8).fill("second")]);
      assert.deepEqual(secondErrors, []);
      // It still opens sessions.
      const dialed = await first.dial("nats://twin/");
      dialed.close();
      assert.equal(servedBy.at(-1), "second");
    });
  } finally {
    for (const object of closing.reverse()) await object.close();
    await proxy.close();
    await server.stop();
  }
});

Deno.test("two holders away from NATS come back at once: exactly one keeps the name, and every session goes to it", async () => {
  const server = await NatsServer.start({ args: ["-D"] });
  const proxies = [TcpProxy.start(server.port), TcpProxy.start(server.port)];
  const holders: NatsAttachment[] = [];
  try {
    await capturingErrors(async (logged) => {
      const servedBy: number[] = [];
      for (const [i, proxy] of proxies.entries()) {
        // The first holds the name; the second takes it while the first is
        // away; then both are away.
        if (i > 0) {
          await cut(server, proxies[i - 1], next(holders[i - 1], "disconnect"));
        }
        holders.push(
          await attachNats({
            nats: through(proxy),
            name: "pair",
            onSession: (transport) => {
              servedBy.push(i);
              transport.close();
            },
          }),
        );
      }
      await cut(server, proxies[1], next(holders[1], "disconnect"));
      const errors = holders.map(errorsOf);
      const lost = holders.map((holder, i) =>
        next(holder, "error").then(() => i)
      );
      for (const proxy of proxies) proxy.restore();
      const loser = await within(5000, "a lost name", Promise.race(lost));
      const keeper = 1 - loser;

      assert.match(
        String((errors[loser][0].error as Error).message),
        /^Lost NATS subject "aiomas\.pair": another holder \(nats:\/\/pair\/\) kept it: /,
      );
      assert.equal(logged.length, 1);
      await using client = await NatsEndpoint.create({
        nats: { servers: server.url },
      });
      for (let i = 0; i < 8; i++) (await client.open("aiomas.pair")).close();
      assert.deepEqual(servedBy, Array(8).fill(keeper));
      assert.deepEqual(errors[keeper], []);
    });
  } finally {
    for (const holder of holders) await holder.close();
    for (const proxy of proxies) await proxy.close();
    await server.stop();
  }
});

Deno.test("a holder away from NATS while nobody claimed its name keeps it when it is back", async () => {
  const server = await NatsServer.start({ args: ["-D"] });
  const proxy = TcpProxy.start(server.port);
  let holder: NatsAttachment | undefined;
  try {
    const servedBy: string[] = [];
    holder = await attachNats({
      nats: through(proxy),
      name: "solo",
      onSession: (transport) => {
        servedBy.push("holder");
        transport.close();
      },
    });
    const errors = errorsOf(holder);
    await cut(server, proxy, next(holder, "disconnect"));
    const reconnected = next(holder, "reconnect");
    proxy.restore();
    await within(5000, "the reconnection", reconnected);
    // While it asserts its claim again, and after, it answers as a holder.
    await assert.rejects(
      attachNats({
        nats: { servers: server.url },
        name: "solo",
        onSession: () => {},
      }),
      /Cannot attach nats:\/\/solo\/: the name is taken/,
    );
    await using client = await NatsEndpoint.create({
      nats: { servers: server.url },
    });
    (await client.open("aiomas.solo")).close();
    assert.deepEqual(servedBy, ["holder"]);
    assert.deepEqual(errors, []);
  } finally {
    await holder?.close();
    await proxy.close();
    await server.stop();
  }
});

Deno.test("a holder closed while it asserts its claim again: the close neither hangs nor leaks, and nothing is reported", async () => {
  const server = await NatsServer.start({ args: ["-D"] });
  const proxy = TcpProxy.start(server.port);
  const closing: NatsAttachment[] = [];
  try {
    await capturingErrors(async (logged) => {
      const first = await attachNats({
        nats: through(proxy),
        name: "brief",
        onSession: (transport) => transport.close(),
      });
      closing.push(first);
      const errors = errorsOf(first);
      await cut(server, proxy, next(first, "disconnect"));
      closing.push(
        await attachNats({
          nats: { servers: server.url },
          name: "brief",
          onSession: (transport) => transport.close(),
        }),
      );
      const reconnected = next(first, "reconnect");
      proxy.restore();
      await within(5000, "the reconnection", reconnected);
      // Its claim is being asserted again now (a round trip, then a wait).
      await within(2000, "the close", first.close());
      assert.deepEqual(errors, []);
      assert.deepEqual(logged, []);
    });
  } finally {
    for (const attachment of closing) await attachment.close();
    await proxy.close();
    await server.stop();
  }
});

Deno.test("an endpoint that stopped accepting does not assert its claim when it is back, where another endpoint took the subject", async () => {
  const server = await NatsServer.start({ args: ["-D"] });
  const proxy = TcpProxy.start(server.port);
  const closing: { close(): Promise<void> }[] = [];
  try {
    await capturingErrors(async (logged) => {
      const first = await NatsEndpoint.create({
        nats: through(proxy),
        subject: "aiomas.drain",
        exclusive: true,
        name: "first",
        onSession: (transport) => transport.close(),
      });
      closing.push(first);
      first.stopAccepting();
      const second = await NatsEndpoint.create({
        nats: { servers: server.url },
        subject: "aiomas.drain",
        exclusive: true,
        name: "second",
        onSession: (transport) => transport.close(),
      });
      closing.push(second);
      const other = await NatsEndpoint.create({
        nats: { servers: server.url },
        subject: "aiomas.other",
        onSession: (transport) => transport.close(),
      });
      closing.push(other);
      // Sees what is published on the subject from now on (it answers
      // nothing, so it starts after the claims).
      const monitor = await connect({ servers: server.url });
      closing.push({ close: () => monitor.close() });
      const published: string[] = [];
      const sub = monitor.subscribe("aiomas.drain", {
        callback: (_error, msg) => {
          published.push(msg.string());
        },
      });
      await monitor.flush();
      const errors = errorsOf(first as unknown as NatsAttachment);

      await cut(
        server,
        proxy,
        next(first as unknown as NatsAttachment, "disconnect"),
      );
      const reconnected = next(first as unknown as NatsAttachment, "reconnect");
      proxy.restore();
      await within(5000, "the reconnection", reconnected);
      // A session opened through first's connection: a claim it published
      // when it was back went out before this hello.
      (await within(5000, "a session", first.open("aiomas.other"))).close();
      await monitor.flush();
      sub.unsubscribe();
      assert.deepEqual(published, []);
      assert.deepEqual(errors, []);
      assert.deepEqual(logged, []);
    });
  } finally {
    for (const object of closing.reverse()) await object.close();
    await proxy.close();
    await server.stop();
  }
});

Deno.test("a container that lost its NATS name says so through options.nats.onStatus, and its name reaches the container that kept it", async () => {
  const server = await NatsServer.start({ args: ["-D"] });
  const proxy = TcpProxy.start(server.port);
  const closing: { shutdown(): Promise<void> }[] = [];
  try {
    await capturingErrors(async (logged) => {
      const statuses: NatsStatus[] = [];
      const waiting = new Map<string, (status: NatsStatus) => void>();
      const seen = (type: string) =>
        new Promise<NatsStatus>((resolve) => waiting.set(type, resolve));
      const first = await Container.create("nats://twin", {
        nats: {
          ...through(proxy),
          onStatus: (status) => {
            statuses.push(status);
            waiting.get(status.type)?.(status);
            waiting.delete(status.type);
          },
        },
      });
      closing.push(first);
      assert.equal(new Named(first, "first").addr, "nats://twin/0");
      const caller = await Container.create("nats://caller", {
        nats: { servers: server.url },
      });
      closing.push(caller);
      const who = await caller.connect("nats://twin/0") as unknown as {
        name(): Promise<string>;
      };
      assert.equal(await who.name(), "first");

      await cut(server, proxy, seen("disconnect"));
      const second = await Container.create("nats://twin", {
        nats: { servers: server.url },
      });
      closing.push(second);
      assert.equal(new Named(second, "second").addr, "nats://twin/0");

      const lost = seen("error");
      proxy.restore();
      const event = await within(5000, "the lost name", lost);
      assert.equal(event.subject, "aiomas.twin");
      assert.match(
        (event.error as Error).message,
        /^Lost NATS subject "aiomas\.twin": another holder \(nats:\/\/twin\/\) kept it/,
      );
      assert.ok(statuses.some((status) => status.type === "reconnect"));
      assert.deepEqual(logged, [`aiomas: ${(event.error as Error).message}`]);
      // The caller's session to the first failed; a new one reaches the second.
      await assert.rejects(within(5000, "the old call", who.name()));
      const again = await caller.connect("nats://twin/0") as unknown as {
        name(): Promise<string>;
      };
      assert.equal(await again.name(), "second");
    });
  } finally {
    for (const container of closing.reverse()) await container.shutdown();
    await proxy.close();
    await server.stop();
  }
});
