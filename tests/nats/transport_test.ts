import assert from "node:assert/strict";
import { Channel } from "../../channel/channel.ts";
import { ConnectionClosedError } from "../../errors.ts";
import { NatsEndpoint, type NatsTransport } from "../../nats/mod.ts";
import { within } from "../_within.ts";
import { NatsCluster, NatsServer } from "./_server.ts";

/** Two endpoints on one server: `server` accepts on "s", `client` opens. */
async function pair(server: NatsServer, window?: number) {
  const accepted = Promise.withResolvers<NatsTransport>();
  const nats = { servers: server.url };
  const serving = await NatsEndpoint.create({
    nats,
    subject: "s",
    window,
    onSession: (transport) => accepted.resolve(transport),
  });
  const client = await NatsEndpoint.create({ nats, window });
  const mine = await client.open("s");
  return {
    mine,
    theirs: await accepted.promise,
    serving,
    client,
    async [Symbol.asyncDispose]() {
      await client.close();
      await serving.close();
    },
  };
}

/** Whether `promise` is still pending after a round trip to the server. */
async function pendingAfterRoundTrip(
  promise: Promise<unknown>,
  endpoint: NatsEndpoint,
): Promise<boolean> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  await endpoint.connection.flush();
  await endpoint.connection.flush();
  return !settled;
}

Deno.test("NatsTransport: a writer waits while the peer has a window of bytes unread", async () => {
  await using server = await NatsServer.start();
  const window = 256 * 1024;
  await using p = await pair(server, window);
  const chunk = new Uint8Array(64 * 1024).fill(1);
  // Up to the window, writes return at once.
  for (let sent = 0; sent < window; sent += chunk.length) {
    await p.mine.write(chunk);
  }
  const blocked = p.mine.write(chunk);
  const probe = await NatsEndpoint.create({ nats: { servers: server.url } });
  try {
    assert.ok(await pendingAfterRoundTrip(blocked, probe));
    // Reading on the other side opens the window.
    const buffer = new Uint8Array(window);
    let read = 0;
    while (read < window) read += (await p.theirs.read(buffer))!;
    assert.equal(await blocked, chunk.length);
  } finally {
    await probe.close();
  }
});

Deno.test("NatsTransport: a write larger than the window waits for room before each message, so an unread peer keeps the session", async () => {
  await using server = await NatsServer.start();
  const window = 64 * 1024;
  await using p = await pair(server, window);
  // Above window + max_payload, which the peer fails a session beyond.
  const maxPayload = p.serving.connection.info!.max_payload;
  const size = window + 2 * maxPayload + 1000;
  const data = Uint8Array.from({ length: size }, (_, i) => i & 0xff);
  const writing = p.mine.write(data);
  const probe = await NatsEndpoint.create({ nats: { servers: server.url } });
  try {
    assert.ok(await pendingAfterRoundTrip(writing, probe));
    const out = new Uint8Array(size);
    let read = 0;
    while (read < size) {
      const n = await p.theirs.read(out.subarray(read));
      assert.notEqual(n, null);
      read += n!;
    }
    assert.equal(await writing, size);
    assert.deepEqual(out, data);
  } finally {
    await probe.close();
  }
});

Deno.test("NatsTransport: a forged message on a session subject fails the session, both sides", async () => {
  await using server = await NatsServer.start();
  await using p = await pair(server);
  const client = new Channel(p.mine, { peer: "server" });
  const served = new Channel(p.theirs, { peer: "client" });
  const pending = client.send("never answered");
  pending.catch(() => {});
  await served.recv();
  // Someone on the account publishes to the client's session subject: a
  // data message out of sequence.
  const intruder = await NatsEndpoint.create({
    nats: { servers: server.url },
  });
  try {
    intruder.connection.publish(
      p.mine.subject,
      new Uint8Array([0, 0, 0, 0, 9, 1]),
    );
    await assert.rejects(pending, (error: Error) => {
      assert.ok(error instanceof ConnectionClosedError);
      assert.match(error.message, /were lost/);
      return true;
    });
    // The peer is told, and its channel closes too.
    await assert.rejects(served.closed, /ended the session/);
    await client.closed.catch(() => {});
  } finally {
    await intruder.close();
  }
});

Deno.test("NatsTransport: a peer that sends beyond the window, unread, fails the session", async () => {
  await using server = await NatsServer.start();
  const window = 64 * 1024;
  await using p = await pair(server, window);
  // Numbered as a real peer would, but ignoring the window: nobody reads.
  const flooder = await NatsEndpoint.create({ nats: { servers: server.url } });
  try {
    const piece = new Uint8Array(5 + 32 * 1024);
    const maxPayload = flooder.connection.info!.max_payload;
    const count = Math.ceil((window + maxPayload) / (32 * 1024)) + 1;
    // A marker after the flood, to the same connection: once it is
    // there, so is the flood (NATS keeps one publisher's order).
    const marked = Promise.withResolvers<void>();
    const marker = p.serving.connection.subscribe("marker", {
      callback: () => marked.resolve(),
    });
    await p.serving.connection.flush();
    for (let seq = 1; seq <= count; seq++) {
      new DataView(piece.buffer).setUint32(1, seq);
      flooder.connection.publish(p.theirs.subject, piece.slice());
    }
    flooder.connection.publish("marker");
    await marked.promise;
    marker.unsubscribe();
    // What came before the limit is read first, then the error.
    const buffer = new Uint8Array(1 << 20);
    let total = 0;
    await assert.rejects(async () => {
      while (total < count * 32 * 1024) {
        total += (await p.theirs.read(buffer)) ?? Infinity;
      }
    }, /beyond the window of 65536/);
  } finally {
    await flooder.close();
  }
});

Deno.test("NatsTransport: a clean close reads to the end on the other side", async () => {
  await using server = await NatsServer.start();
  await using p = await pair(server);
  await p.mine.write(new Uint8Array([1, 2, 3]));
  p.mine.close();
  const buffer = new Uint8Array(16);
  assert.equal(await p.theirs.read(buffer), 3);
  assert.deepEqual(buffer.subarray(0, 3), new Uint8Array([1, 2, 3]));
  assert.equal(await p.theirs.read(buffer), null);
  await assert.rejects(p.mine.write(new Uint8Array([4])), /closed/);
});

Deno.test("NatsEndpoint: invalid subjects, refused hellos", async () => {
  await using server = await NatsServer.start();
  const nats = { servers: server.url };
  await assert.rejects(
    NatsEndpoint.create({ nats, subject: "a.*" }),
    TypeError,
  );
  // A queue group with a space or a line break would have the server
  // drop the whole connection.
  for (const queue of ["a b", "a\r\nPUB x 1", "q.>"]) {
    await assert.rejects(
      NatsEndpoint.create({ nats, subject: "queued", queue }),
      { name: "TypeError", message: /^Invalid NATS queue group / },
    );
  }
  // A fraction was announced to no peer, which then sent past it.
  for (
    const bad of [
      { window: 100000.5 },
      { window: 0 },
      { heartbeat: -1 },
      {
        timeout: NaN,
      },
      { maxSessions: NaN },
      { maxSessions: -1 },
      { maxSessions: 1.5 },
    ]
  ) {
    await assert.rejects(
      NatsEndpoint.create({ nats, ...bad }),
      {
        name: "RangeError",
        message: /^Invalid options\.(window|heartbeat|timeout|maxSessions) /,
      },
      JSON.stringify(bad),
    );
  }
  // Times beyond setTimeout's range are none, not "at once".
  await using _far = await NatsEndpoint.create({
    nats,
    subject: "far",
    exclusive: true,
    timeout: 2 ** 32,
    heartbeat: 2 ** 32,
  });
  // Infinity is no bound.
  await (await NatsEndpoint.create({ nats, maxSessions: Infinity })).close();
  await using noSessions = await NatsEndpoint.create({ nats, subject: "x" });
  await using full = await NatsEndpoint.create({
    nats,
    subject: "full",
    maxSessions: 0,
    onSession: () => {},
  });
  await using client = await NatsEndpoint.create({ nats });
  await assert.rejects(client.open("x"), /accepts no sessions/);
  await assert.rejects(client.open("full"), /too many sessions \(0\)/);
  await assert.rejects(client.open("a b"), TypeError);
  // nats.js read 0 and NaN as 1 s, and refused less than 1 ms with an
  // error about its own option.
  for (const timeout of [0, NaN, 0.5, -1]) {
    await assert.rejects(client.open("x", { timeout }), {
      name: "RangeError",
      message: /^Invalid timeout .*: expected milliseconds from 1 up/,
    });
  }
  assert.equal(noSessions.subject, "x");
  assert.equal(full.subject, "full");
});

Deno.test("NatsEndpoint over a shared connection: closing it leaves the connection open", async () => {
  await using server = await NatsServer.start();
  const { connect } = await import("npm:@nats-io/transport-node@3.4.0");
  const nc = await connect({ servers: server.url });
  try {
    const accepted = Promise.withResolvers<NatsTransport>();
    const serving = await NatsEndpoint.create({
      nats: nc,
      subject: "shared",
      onSession: (transport) => accepted.resolve(transport),
    });
    const client = await NatsEndpoint.create({ nats: nc });
    const channel = new Channel(await client.open("shared"));
    const served = new Channel(await accepted.promise);
    const reply = channel.send("over one connection");
    await (await served.recv()).reply("yes");
    assert.equal(await reply, "yes");
    await channel.close();
    await served.closed;
    await client.close();
    await serving.close();
    assert.equal(nc.isClosed(), false);
    assert.equal(client.connection, nc);
  } finally {
    await nc.close();
  }
});

Deno.test("NatsTransport: a peer that is subscribed but never answers pings fails the session after `timeout`", async () => {
  await using server = await NatsServer.start();
  const { connect } = await import("npm:@nats-io/transport-node@3.4.0");
  const frozen = await connect({ servers: server.url });
  try {
    // Answers the hello, then takes messages and never answers (a frozen
    // process whose connection lives on).
    frozen.subscribe("frozen.session", { callback: () => {} });
    frozen.subscribe("frozen", {
      callback: (_error, msg) => {
        msg.respond(JSON.stringify({ subject: "frozen.session" }));
      },
    });
    await frozen.flush();
    await using client = await NatsEndpoint.create({
      nats: { servers: server.url },
      heartbeat: 50,
      timeout: 300,
    });
    const transport = await client.open("frozen");
    const started = performance.now();
    await assert.rejects(
      transport.read(new Uint8Array(16)),
      /did not answer a ping within 300 ms/,
    );
    assert.ok(performance.now() - started >= 300);
  } finally {
    await frozen.close();
  }
});

Deno.test("NatsTransport: closing the shared NATS connection under a session rejects its pending calls", async () => {
  await using server = await NatsServer.start();
  const { connect } = await import("npm:@nats-io/transport-node@3.4.0");
  const nc = await connect({ servers: server.url });
  await using serving = await NatsEndpoint.create({
    nats: { servers: server.url },
    subject: "s",
    onSession: (transport) => {
      // Takes the request and never answers.
      new Channel(transport).recv().catch(() => {});
    },
  });
  const client = await NatsEndpoint.create({ nats: nc, heartbeat: 50 });
  const channel = new Channel(await client.open("s"));
  const pending = channel.send("never answered");
  await nc.flush();
  await nc.close();
  await assert.rejects(pending, (error: Error) => {
    assert.ok(error instanceof ConnectionClosedError);
    return true;
  });
  await channel.close();
  // A write on a session of the closed connection says so (nats.js's own
  // text was "closed connection").
  const other = await NatsEndpoint.create({ nats: { servers: server.url } });
  const session = await other.open("s");
  await other.connection.close();
  await assert.rejects(
    session.write(new Uint8Array(8)),
    /^Error: Cannot write to s: the NATS connection is closed$/,
  );
  await other.close();
  await client.close();
  assert.equal(serving.subject, "s");
});

Deno.test("NatsTransport: a reader with the larger window acks often enough for a writer with a smaller one (no wait for a ping)", async () => {
  await using server = await NatsServer.start();
  const accepted = Promise.withResolvers<NatsTransport>();
  const nats = { servers: server.url };
  // Pings an hour apart: only acks can open the writer's window.
  const heartbeat = 3_600_000;
  const timeout = 7_200_000;
  await using _serving = await NatsEndpoint.create({
    nats,
    subject: "s",
    window: 4 * 1024 * 1024,
    heartbeat,
    timeout,
    onSession: (transport) => accepted.resolve(transport),
  });
  await using client = await NatsEndpoint.create({
    nats,
    window: 64 * 1024,
    heartbeat,
    timeout,
  });
  const mine = await client.open("s");
  const theirs = await accepted.promise;
  const total = 2 * 1024 * 1024;
  const chunk = new Uint8Array(16 * 1024).fill(7);
  const writing = (async () => {
    for (let sent = 0; sent < total; sent += chunk.length) {
      await mine.write(chunk);
    }
  })();
  writing.catch(() => {}); // Awaited below, unless reading fails first.
  const buffer = new Uint8Array(64 * 1024);
  let read = 0;
  await within(
    10_000,
    "reading 2 MiB",
    (async () => {
      while (read < total) read += (await theirs.read(buffer))!;
    })(),
  );
  await writing;
  assert.equal(read, total);
});

Deno.test("NatsTransport: a max_payload with no room for data fails the write, instead of looping", async () => {
  await using server = await NatsServer.start();
  await using p = await pair(server);
  // As if the server had been reloaded with a tiny max_payload after the
  // session began: 5 bytes are the data message's own header.
  Object.defineProperty(p.client.connection, "info", {
    value: { max_payload: 5 },
    configurable: true,
  });
  await assert.rejects(
    p.mine.write(new Uint8Array([1])),
    /max_payload of 5 bytes leaves no room/,
  );
  // The session failed, and the peer is told.
  await assert.rejects(
    p.mine.write(new Uint8Array([1])),
    /max_payload of 5 bytes/,
  );
  await assert.rejects(
    p.theirs.read(new Uint8Array(8)),
    /max_payload of 5 bytes/,
  );
});

Deno.test("NatsTransport: in a cluster whose servers differ in max_payload, an honest large write goes through", async () => {
  // The reader's server takes messages of 64 KiB at most, the writer's of
  // 1 MiB: the writer's pieces reach the reader through the route whole.
  const conf = await Deno.makeTempFile({ suffix: ".conf" });
  try {
    await Deno.writeTextFile(conf, "max_payload: 65536\n");
    await using cluster = await NatsCluster.start(
      2,
      (i) => i === 1 ? ["-c", conf] : [],
    );
    const window = 64 * 1024;
    const accepted = Promise.withResolvers<NatsTransport>();
    await using serving = await NatsEndpoint.create({
      nats: { servers: cluster.urls[1] },
      subject: "s",
      window,
      onSession: (transport) => accepted.resolve(transport),
    });
    await cluster.nodes[0].waitForInterest("s");
    await using client = await NatsEndpoint.create({
      nats: { servers: cluster.urls[0] },
      window,
    });
    assert.equal(serving.connection.info!.max_payload, 65536);
    assert.ok(client.connection.info!.max_payload > 4 * window);
    const mine = await client.open("s");
    const theirs = await accepted.promise;
    const bytes = new Uint8Array(2 << 20);
    for (let i = 0; i < bytes.length; i++) bytes[i] = i % 251;
    const written = mine.write(bytes);
    const received = new Uint8Array(bytes.length);
    for (let got = 0; got < bytes.length;) {
      const n = await theirs.read(received.subarray(got));
      assert.notEqual(n, null);
      got += n!;
    }
    assert.equal(await written, bytes.length);
    assert.deepEqual(received, bytes);
  } finally {
    await Deno.remove(conf);
  }
});

Deno.test("NatsTransport: a write that waited for room cuts its next pieces at the max_payload the server says then (a failover may bring a smaller one)", async () => {
  await using server = await NatsServer.start();
  const window = 64 * 1024;
  await using p = await pair(server, window);
  const nc = p.client.connection;
  const sizes: number[] = [];
  const publish = nc.publish.bind(nc);
  nc.publish = ((subject: string, data?: Uint8Array, options?: never) => {
    if (data !== undefined && data[0] === 0 /* DATA */) sizes.push(data.length);
    return publish(subject, data, options);
  }) as typeof nc.publish;
  // Above the server's 1 MiB max_payload: the first piece is 1 MiB, beyond
  // the window, and the write waits for the reader.
  const bytes = new Uint8Array(2 * 1024 * 1024 + 1000).fill(3);
  const written = p.mine.write(bytes);
  await within(
    10_000,
    "the first piece",
    (async () => {
      while (sizes.length === 0) await nc.flush();
    })(),
  );
  // Meanwhile the connection fails over to a server of 16 KiB messages.
  Object.defineProperty(nc, "info", {
    value: { max_payload: 16 * 1024 },
    configurable: true,
  });
  const buffer = new Uint8Array(bytes.length);
  for (let got = 0; got < bytes.length;) {
    got += (await p.theirs.read(buffer.subarray(got)))!;
  }
  assert.equal(await written, bytes.length);
  assert.deepEqual(buffer, bytes);
  assert.ok(sizes.length > 1, String(sizes));
  for (const size of sizes.slice(1)) {
    assert.ok(size <= 16 * 1024, String(sizes));
  }
});

Deno.test("NatsTransport: a data message that cannot be published fails the session, and the peer is told why (not that messages were lost)", async () => {
  await using server = await NatsServer.start();
  await using p = await pair(server);
  const nc = p.client.connection;
  const publish = nc.publish.bind(nc);
  nc.publish = ((subject: string, data?: Uint8Array, options?: never) => {
    if (data !== undefined && data[0] === 0 /* DATA */) {
      throw new Error("no room on the wire");
    }
    return publish(subject, data, options);
  }) as typeof nc.publish;
  await assert.rejects(
    p.mine.write(new Uint8Array([1])),
    /no room on the wire/,
  );
  await assert.rejects(
    p.theirs.read(new Uint8Array(8)),
    (error: Error) => {
      assert.match(error.message, /no room on the wire/);
      assert.doesNotMatch(error.message, /were lost/);
      return true;
    },
  );
});
