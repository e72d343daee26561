import assert from "node:assert/strict";
import { textFrame } from "../_frames.ts";
import { fileURLToPath } from "node:url";
import {
  type Channel,
  type ListenTlsOptions,
  openConnection,
  type Request,
  type Server,
  startServer,
} from "../../channel/mod.ts";
import { MsgPackCodec, serializable } from "../../codecs/mod.ts";
import {
  ConnectionClosedError,
  ProtocolError,
  RemoteError,
} from "../../errors.ts";

const LOCAL = { hostname: "127.0.0.1", port: 0 };

function readFixture(name: string): string {
  return Deno.readTextFileSync(
    fileURLToPath(new URL(`../fixtures/tls/${name}`, import.meta.url)),
  );
}

const tlsFiles = {
  ca: readFixture("ca.pem"),
  serverCert: readFixture("server.pem"),
  serverKey: readFixture("server.key"),
  clientCert: readFixture("client.pem"),
  clientKey: readFixture("client.key"),
  rogueCert: readFixture("rogue.pem"),
  rogueKey: readFixture("rogue.key"),
};

/** Serves every request of `channel` with `fn` until the channel closes. */
async function serve(
  channel: Channel,
  fn: (content: unknown) => unknown,
): Promise<void> {
  for await (const request of channel) await request.reply(fn(request.content));
}

const echo = (channel: Channel) => serve(channel, (content) => content);

function tcpAddr(server: Server): { hostname: string; port: number } {
  assert.equal(typeof server.addr, "object");
  return server.addr as { hostname: string; port: number };
}

/** A port that nothing listens on: listen on port 0, then close. */
function freePort(): number {
  const listener = Deno.listen(LOCAL);
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Replaces `Deno.connect` while `fn` runs, to learn when a connection
 * attempt was refused and how often (the retry loop gives no other sign).
 */
async function withRefusalHook<T>(
  fn: (refused: Promise<void>, refusals: () => number) => Promise<T>,
): Promise<T> {
  const realConnect = Deno.connect;
  const refused = Promise.withResolvers<void>();
  let refusals = 0;
  Deno.connect = (async (options: Deno.ConnectOptions) => {
    try {
      return await realConnect(options);
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionRefused) {
        refusals++;
        refused.resolve();
      }
      throw error;
    }
  }) as typeof Deno.connect;
  try {
    return await fn(refused.promise, () => refusals);
  } finally {
    Deno.connect = realConnect;
  }
}

/**
 * A TCP server that accepts and then says nothing, e.g. never answers a
 * TLS handshake; `accepted` yields its connections.
 */
function startSilentServer(): {
  addr: { hostname: string; port: number };
  accepted: () => Promise<Deno.Conn>;
  [Symbol.dispose](): void;
} {
  const listener = Deno.listen(LOCAL);
  const conns: Deno.Conn[] = [];
  return {
    addr: listener.addr as Deno.NetAddr,
    accepted: async () => {
      const conn = await listener.accept();
      conns.push(conn);
      return conn;
    },
    [Symbol.dispose]() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Closed already.
        }
      }
    },
  };
}

/** Resolves when the peer of `conn` has closed or reset it. */
async function peerClosed(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(4096);
  try {
    while (await conn.read(buffer) !== null) {
      // Drain whatever it sent (e.g. a ClientHello).
    }
  } catch (error) {
    assert.ok(error instanceof Deno.errors.ConnectionReset, String(error));
  }
}

Deno.test("TCP: round trip, real port in server.addr, peers", async () => {
  const serverSide = Promise.withResolvers<Channel>();
  await using server = await startServer(LOCAL, (channel) => {
    serverSide.resolve(channel);
    return serve(channel, (content) => `${content} back`);
  });
  const addr = tcpAddr(server);
  assert.equal(addr.hostname, "127.0.0.1");
  assert.notEqual(addr.port, 0);
  await using channel = await openConnection(addr);
  assert.equal(await channel.send("ohai"), "ohai back");
  assert.equal(channel.peer, `127.0.0.1:${addr.port}`);
  const accepted = await serverSide.promise;
  assert.match(accepted.peer, /^127\.0\.0\.1:\d+$/);
  assert.notEqual(accepted.peer, channel.peer);
  assert.deepEqual([...server.channels], [accepted]);
  // The other address forms.
  await using byTuple = await openConnection(["127.0.0.1", addr.port]);
  assert.equal(await byTuple.send(1), "1 back");
  await using byString = await openConnection(`127.0.0.1:${addr.port}`);
  assert.equal(await byString.send(2), "2 back");
  assert.equal(byString.peer, `127.0.0.1:${addr.port}`);
  await using byUrl = await openConnection(`tcp://127.0.0.1:${addr.port}/`);
  assert.equal(await byUrl.send(3), "3 back");
});

Deno.test('TCP: "host:port" strings listen and connect over TCP, not as socket files', async () => {
  const dir = await Deno.makeTempDir();
  const cwd = Deno.cwd();
  Deno.chdir(dir);
  try {
    await using server = await startServer("127.0.0.1:0", echo);
    const addr = tcpAddr(server);
    assert.equal(addr.hostname, "127.0.0.1");
    await using channel = await openConnection(`127.0.0.1:${addr.port}`);
    assert.equal(await channel.send("tcp"), "tcp");
    // Nothing was created in the working directory.
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
  } finally {
    Deno.chdir(cwd);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TCP: either side may send requests", async () => {
  const fromServer = Promise.withResolvers<unknown>();
  await using server = await startServer(LOCAL, async (channel) => {
    fromServer.resolve(await channel.send("who are you?"));
    await echo(channel);
  });
  await using channel = await openConnection(server.addr);
  const request = await channel.recv();
  assert.equal(request.content, "who are you?");
  await request.reply("the client");
  assert.equal(await fromServer.promise, "the client");
  assert.equal(await channel.send("and you?"), "and you?");
});

Deno.test("TCP: many concurrent requests with large payloads", async () => {
  await using server = await startServer(
    LOCAL,
    (channel) => serve(channel, (c) => c),
  );
  await using channel = await openConnection(server.addr);
  const payloads = Array.from(
    { length: 50 },
    (_, i) => String(i).repeat(1000 * (i + 1)),
  );
  const replies = await Promise.all(payloads.map((p) => channel.send(p)));
  assert.deepEqual(replies, payloads);
});

Deno.test("Unix socket: round trip; the socket file is removed on close", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/aiomas.sock`;
    const serverSide = Promise.withResolvers<Channel>();
    const server = await startServer(`unix:${path}`, (channel) => {
      serverSide.resolve(channel);
      return echo(channel);
    });
    assert.deepEqual(server.addr, { path });
    assert.ok((await Deno.lstat(path)).isSocket);
    const channel = await openConnection(server.addr);
    assert.equal(channel.peer, `unix:${path}`);
    assert.equal((await serverSide.promise).peer, `unix:${path} (client)`);
    assert.deepEqual(await channel.send({ via: "unix" }), { via: "unix" });
    await using byString = await openConnection(`unix:${path}`);
    assert.equal(await byString.send("by string"), "by string");
    await server.close();
    await channel.closed;
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
    await assert.rejects(openConnection({ path }), (error) => {
      assert.ok(error instanceof Deno.errors.NotFound, String(error));
      assert.equal(
        error.message,
        `No such file or directory: unix:${path} (os error 2)`,
      );
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Unix socket: a stale socket file is replaced", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/stale.sock`;
    // A process that exits without closing its listener leaves the file behind.
    const { success } = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `Deno.listen({ transport: "unix", path: ${
          JSON.stringify(path)
        } }); Deno.exit(0);`,
      ],
      stdout: "null",
      stderr: "inherit",
    }).output();
    assert.ok(success);
    assert.ok((await Deno.lstat(path)).isSocket);
    await using server = await startServer({ path }, echo);
    await using channel = await openConnection(server.addr);
    assert.equal(await channel.send("fresh"), "fresh");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Unix socket: a socket a server listens on is AddrInUse, and that server keeps it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/live.sock`;
    await using first = await startServer({ path }, echo);
    await assert.rejects(
      startServer({ path }, echo),
      Deno.errors.AddrInUse,
      `Address already in use: unix:${path} (a server listens on it)`,
    );
    await using channel = await openConnection(first.addr);
    assert.equal(await channel.send("still mine"), "still mine");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Unix socket: a path too long for a socket is a TypeError naming it, at listen and connect", async () => {
  const path = `/tmp/${"x".repeat(200)}.sock`;
  const named = {
    name: "TypeError",
    message: new RegExp(`: unix:${path}$`),
  };
  await assert.rejects(startServer({ path }, echo), named);
  await assert.rejects(openConnection({ path }), named);
});

Deno.test("TLS: round trip with a CA-signed server certificate", async () => {
  await using server = await startServer(
    LOCAL,
    (channel) => serve(channel, (c) => [c, "over tls"]),
    {
      tls: { cert: tlsFiles.serverCert, key: tlsFiles.serverKey },
    },
  );
  const addr = tcpAddr(server);
  await using channel = await openConnection(addr, {
    tls: { caCerts: [tlsFiles.ca] },
  });
  assert.deepEqual(await channel.send("secret"), ["secret", "over tls"]);
  assert.equal(channel.peer, `127.0.0.1:${addr.port}`);
  // Several connections, one after the other and at once.
  const more = await Promise.all(
    [1, 2, 3].map(() =>
      openConnection(addr, { tls: { caCerts: [tlsFiles.ca] } })
    ),
  );
  assert.deepEqual(
    await Promise.all(more.map((c, i) => c.send(i))),
    [[0, "over tls"], [1, "over tls"], [2, "over tls"]],
  );
  await Promise.all(more.map((c) => c.close()));
});

Deno.test("TLS: a client certificate may be presented", async () => {
  await using server = await startServer(LOCAL, echo, {
    tls: { cert: tlsFiles.serverCert, key: tlsFiles.serverKey },
  });
  await using channel = await openConnection(server.addr, {
    tls: {
      caCerts: [tlsFiles.ca],
      cert: tlsFiles.clientCert,
      key: tlsFiles.clientKey,
    },
  });
  assert.equal(await channel.send("with client cert"), "with client cert");
});

Deno.test("TLS: an untrusted server certificate fails openConnection", async () => {
  await using server = await startServer(LOCAL, echo, {
    tls: { cert: tlsFiles.serverCert, key: tlsFiles.serverKey },
    onError: () => {},
  });
  // The system's CAs do not know the test CA; trusting the client
  // certificate's own CA file instead of it would not help either.
  for (const tls of [{}, { caCerts: [tlsFiles.clientCert] }]) {
    await assert.rejects(openConnection(server.addr, { tls }), (error) => {
      assert.ok(error instanceof Deno.errors.InvalidData, String(error));
      assert.match(error.message, /certificate/i);
      return true;
    });
  }
  await using channel = await openConnection(server.addr, {
    tls: { caCerts: [tlsFiles.ca] },
  });
  assert.equal(await channel.send("trusted"), "trusted");
});

Deno.test("TLS: a plain-TCP client fails only its own connection; onHandshakeError names it", async () => {
  const failed = Promise.withResolvers<[Error, string]>();
  await using server = await startServer(LOCAL, echo, {
    tls: { cert: tlsFiles.serverCert, key: tlsFiles.serverKey },
    onHandshakeError: (error, peer) => failed.resolve([error, peer]),
  });
  // The server answers the cleartext request with a TLS alert: not a frame.
  const plain = await openConnection(server.addr);
  const plainEnd = plain.peer;
  await assert.rejects(plain.send("hello?"), ConnectionClosedError);
  await assert.rejects(plain.closed, ProtocolError);
  await plain.close();
  const [error, peer] = await failed.promise;
  assert.ok(error instanceof Error);
  assert.match(peer, /^127\.0\.0\.1:\d+$/);
  assert.notEqual(peer, plainEnd, "the client's end, not the server's");
  // The server still accepts TLS clients.
  await using channel = await openConnection(server.addr, {
    tls: { caCerts: [tlsFiles.ca] },
  });
  assert.equal(await channel.send("still there"), "still there");
});

/** Whether a client gets a reply from a server: false if the handshake or the call fails. */
async function getsReply(
  addr: Server["addr"],
  tls: { caCerts: string[]; cert?: string; key?: string },
): Promise<boolean> {
  let channel: Channel;
  try {
    channel = await openConnection(addr, { tls });
  } catch {
    return false;
  }
  try {
    return await channel.send("let me in") === "let me in";
  } catch (error) {
    assert.ok(error instanceof ConnectionClosedError, String(error));
    return false;
  } finally {
    await channel.close();
  }
}

Deno.test("mutual TLS: only clients with a certificate from the CA are served; the others are reported", async () => {
  const handshakeErrors: [Error, string][] = [];
  await using server = await startServer(LOCAL, echo, {
    tls: {
      cert: tlsFiles.serverCert,
      key: tlsFiles.serverKey,
      clientCaCerts: [tlsFiles.ca],
    },
    onHandshakeError: (error, peer) => handshakeErrors.push([error, peer]),
  });
  const trusted = { caCerts: [tlsFiles.ca] };
  assert.equal(
    await getsReply(server.addr, {
      ...trusted,
      cert: tlsFiles.clientCert,
      key: tlsFiles.clientKey,
    }),
    true,
  );
  // No certificate, or one the CA did not sign: nothing but a closed connection.
  assert.equal(await getsReply(server.addr, trusted), false);
  assert.equal(handshakeErrors.length, 1);
  assert.match(handshakeErrors[0][1], /^127\.0\.0\.1:\d+$/);
  assert.equal(
    await getsReply(server.addr, {
      ...trusted,
      cert: tlsFiles.rogueCert,
      key: tlsFiles.rogueKey,
    }),
    false,
  );
  // The server keeps serving good clients.
  assert.equal(
    await getsReply(server.addr, {
      ...trusted,
      cert: tlsFiles.clientCert,
      key: tlsFiles.clientKey,
    }),
    true,
  );
  assert.equal(handshakeErrors.length, 2);
  assert.ok(tcpAddr(server).port > 0);
});

Deno.test("codec option: MsgPackCodec carries bytes and integer-keyed maps", async () => {
  await using server = await startServer(LOCAL, (channel) => {
    assert.equal(channel.codec.name, "msgpack");
    return serve(channel, (content) => content);
  }, { codec: MsgPackCodec });
  await using channel = await openConnection(server.addr, {
    codec: MsgPackCodec,
  });
  assert.equal(channel.codec.name, "msgpack");
  const value = {
    bytes: new Uint8Array([0, 1, 255]),
    map: new Map([[1, "a"], [2, "b"]]),
  };
  assert.deepEqual(await channel.send(value), value);
});

class Point {
  constructor(public x: number, public y: number) {}
}

class Label {
  constructor(public text: string) {}
}

Deno.test("serializers option: extra types travel in both directions", async () => {
  const serializers = [
    serializable(Point, ["x", "y"]),
    serializable(Label, ["text"]),
  ] as const;
  await using server = await startServer(
    LOCAL,
    (channel) =>
      serve(channel, (content) => {
        const [point, label] = content as [Point, Label];
        assert.ok(point instanceof Point);
        assert.ok(label instanceof Label);
        return new Point(point.x + point.y, point.x * point.y);
      }),
    { serializers, codec: MsgPackCodec },
  );
  await using channel = await openConnection(server.addr, {
    serializers,
    codec: MsgPackCodec,
  });
  const reply = await channel.send([new Point(3, 4), new Label("p")]);
  assert.ok(reply instanceof Point);
  assert.deepEqual(reply, new Point(7, 12));
});

Deno.test("serializers option: a duplicate registration fails without leaking a connection", async () => {
  const twice = [
    serializable(Point, ["x", "y"]),
    serializable(Point, ["x", "y"]),
  ];
  await using server = await startServer(LOCAL, echo);
  await assert.rejects(
    openConnection(server.addr, { serializers: twice }),
    TypeError,
  );
  await assert.rejects(
    startServer(LOCAL, echo, { serializers: twice }),
    TypeError,
  );
  await using channel = await openConnection(server.addr);
  assert.equal(await channel.send("ok"), "ok");
  // The failed openConnection did not connect: the server only has the good client.
  assert.equal(server.channels.size, 1);
});

Deno.test("server.close() closes open connections; pending sends reject", async () => {
  const received = Promise.withResolvers<Request>();
  const handlerDone = Promise.withResolvers<void>();
  const server = await startServer(LOCAL, async (channel) => {
    for await (const request of channel) received.resolve(request);
    handlerDone.resolve();
  });
  const addr = tcpAddr(server);
  const channel = await openConnection(addr);
  const pending = channel.send("never answered");
  const request = await received.promise;
  assert.equal(request.content, "never answered");
  await server.close();
  await server.closed;
  await server.close(); // Idempotent.
  assert.equal(server.channels.size, 0);
  await handlerDone.promise;
  await assert.rejects(pending, ConnectionClosedError);
  await channel.closed;
  await assert.rejects(channel.send("more"), ConnectionClosedError);
  await assert.rejects(openConnection(addr), Deno.errors.ConnectionRefused);
});

Deno.test("openConnection: a closed port is ConnectionRefused, naming the address", async () => {
  const port = freePort();
  for (
    const addr of [
      { hostname: "127.0.0.1", port },
      ["127.0.0.1", port] as const,
      `127.0.0.1:${port}`,
    ]
  ) {
    await assert.rejects(openConnection(addr), (error) => {
      assert.ok(error instanceof Deno.errors.ConnectionRefused, String(error));
      assert.equal(error.name, "ConnectionRefused");
      assert.equal(
        error.message,
        `Connection refused: 127.0.0.1:${port} (os error 111)`,
      );
      assert.equal((error as { code?: string }).code, "ECONNREFUSED");
      assert.ok(error.cause instanceof Deno.errors.ConnectionRefused);
      return true;
    });
  }
});

Deno.test("openConnection with TLS: a closed port is ConnectionRefused, naming the address; retry works", async () => {
  const port = freePort();
  const tls = { caCerts: [tlsFiles.ca] };
  await assert.rejects(
    openConnection(`127.0.0.1:${port}`, { tls }),
    (error) => {
      assert.ok(error instanceof Deno.errors.ConnectionRefused, String(error));
      assert.equal(
        error.message,
        `Connection refused: 127.0.0.1:${port} (os error 111)`,
      );
      return true;
    },
  );
  // Retrying treats the refusal as the plain TCP path does.
  await assert.rejects(
    openConnection(`127.0.0.1:${port}`, { tls, retry: true, timeout: 100 }),
    (error) => {
      assert.ok(error instanceof DOMException, String(error));
      assert.match(error.message, /last attempt: ConnectionRefused/);
      return true;
    },
  );
});

Deno.test("openConnection: timeout is milliseconds (timeout: 5 gives up after 5 ms, not 5 s)", async () => {
  const port = freePort();
  await withRefusalHook(async (_refused, refusals) => {
    await assert.rejects(
      openConnection(`127.0.0.1:${port}`, { retry: true, timeout: 5 }),
      (error) => {
        assert.ok(error instanceof DOMException, String(error));
        assert.equal(error.name, "TimeoutError");
        assert.match(
          error.message,
          new RegExp(
            `^connecting to 127\\.0\\.0\\.1:${port} timed out after 5 ms`,
          ),
        );
        return true;
      },
    );
    // The first retry would come 500 ms after the first refusal.
    assert.ok(refusals() <= 1, `${refusals()} attempts`);
  });
});

Deno.test("openConnection: timeout 0 gives up at once; a bad timeout is a RangeError", async () => {
  await using server = await startServer(LOCAL, echo);
  await assert.rejects(
    openConnection(server.addr, { timeout: 0 }),
    (error) => error instanceof DOMException && error.name === "TimeoutError",
  );
  for (const timeout of [-1, NaN, "5" as unknown as number]) {
    await assert.rejects(
      openConnection(server.addr, { timeout }),
      RangeError,
      "expected milliseconds",
    );
  }
  // No connection was made by any of them.
  assert.equal(server.channels.size, 0);
  // Infinity is no deadline.
  await using channel = await openConnection(server.addr, {
    timeout: Infinity,
  });
  assert.equal(await channel.send("no deadline"), "no deadline");
});

Deno.test("openConnection: with retry it retries until the server is up", async () => {
  const port = freePort();
  await withRefusalHook(async (refused) => {
    const connecting = openConnection({ hostname: "127.0.0.1", port }, {
      retry: true,
      timeout: 60_000,
    });
    await refused;
    // The first attempt was refused; the retry (0.5 s later) finds the server.
    await using server = await startServer(
      { hostname: "127.0.0.1", port },
      echo,
    );
    assert.equal(tcpAddr(server).port, port);
    await using channel = await connecting;
    assert.equal(await channel.send("made it"), "made it");
  });
});

Deno.test("openConnection: a timeout during retries names the last error", async () => {
  const port = freePort();
  await withRefusalHook(async (refused) => {
    const connecting = openConnection(`127.0.0.1:${port}`, {
      retry: true,
      timeout: 100,
    });
    const outcome = connecting.then(() => null, (error) => error);
    await refused;
    const error = await outcome;
    assert.ok(error instanceof DOMException, String(error));
    assert.equal(error.name, "TimeoutError");
    assert.equal(
      error.message,
      `connecting to 127.0.0.1:${port} timed out after 100 ms (last attempt: ConnectionRefused: Connection refused (os error 111))`,
    );
  });
});

Deno.test("openConnection: retrying stops when the signal aborts", async () => {
  const port = freePort();
  await withRefusalHook(async (refused) => {
    const controller = new AbortController();
    const reason = new Error("gave up");
    const connecting = openConnection({ hostname: "127.0.0.1", port }, {
      retry: true,
      signal: controller.signal,
    });
    await refused;
    controller.abort(reason);
    await assert.rejects(connecting, (error) => error === reason);
  });
  const aborted = AbortSignal.abort();
  await assert.rejects(
    openConnection({ hostname: "127.0.0.1", port }, { signal: aborted }),
    (error) => error instanceof DOMException && error.name === "AbortError",
  );
});

for (
  const [name, clientCert] of [
    ["", {}],
    [" with a client certificate", {
      cert: tlsFiles.clientCert,
      key: tlsFiles.clientKey,
    }],
  ] as const
) {
  Deno.test(`openConnection${name}: a TLS handshake the server never answers ends when the signal aborts`, async () => {
    using silent = startSilentServer();
    const controller = new AbortController();
    const connecting = openConnection(silent.addr, {
      tls: { caCerts: [tlsFiles.ca], ...clientCert },
      signal: controller.signal,
    });
    const outcome = connecting.then(() => null, (error) => error);
    const conn = await silent.accepted();
    controller.abort();
    const error = await outcome;
    assert.ok(error instanceof DOMException, String(error));
    assert.equal(error.name, "AbortError");
    // The client closed its socket.
    await peerClosed(conn);
  });

  Deno.test(`openConnection${name}: a TLS handshake the server never answers ends at the timeout`, async () => {
    using silent = startSilentServer();
    const connecting = openConnection(silent.addr, {
      tls: { caCerts: [tlsFiles.ca], ...clientCert },
      timeout: 200,
    });
    const outcome = connecting.then(() => null, (error) => error);
    const conn = await silent.accepted();
    const error = await outcome;
    assert.ok(error instanceof DOMException, String(error));
    assert.equal(error.name, "TimeoutError");
    assert.equal(
      error.message,
      `connecting to 127.0.0.1:${silent.addr.port} timed out after 200 ms`,
    );
    await peerClosed(conn);
  });
}

Deno.test("openConnection: a TLS handshake error names the address", async () => {
  await using server = await startServer(LOCAL, echo, {
    tls: { cert: tlsFiles.serverCert, key: tlsFiles.serverKey },
  });
  const { port } = tcpAddr(server);
  await assert.rejects(
    openConnection(server.addr, { tls: {} }),
    (error) => {
      assert.ok(error instanceof Deno.errors.InvalidData, String(error));
      assert.match(
        error.message,
        new RegExp(
          `^TLS handshake with 127\\.0\\.0\\.1:${port} failed: .*certificate`,
        ),
      );
      return true;
    },
  );
});

Deno.test("TLS needs a TCP address", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/tls.sock`;
    await assert.rejects(
      startServer({ path }, echo, {
        tls: { cert: tlsFiles.serverCert, key: tlsFiles.serverKey },
      }),
      TypeError,
      `TLS needs a TCP address, not unix:${path}`,
    );
    await assert.rejects(
      openConnection({ path }, { tls: { caCerts: [tlsFiles.ca] } }),
      TypeError,
      `TLS needs a TCP address, not unix:${path}`,
    );
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const serverTlsCases: [string, ListenTlsOptions][] = [
  ["TLS", { cert: tlsFiles.serverCert, key: tlsFiles.serverKey }],
  ["mutual TLS", {
    cert: tlsFiles.serverCert,
    key: tlsFiles.serverKey,
    clientCaCerts: [tlsFiles.ca],
  }],
];
for (const [name, serverTls] of serverTlsCases) {
  Deno.test(`${name} server: a client that never handshakes is dropped after handshakeTimeout; others are served meanwhile`, async () => {
    const failed = Promise.withResolvers<[Error, string]>();
    await using server = await startServer(LOCAL, echo, {
      tls: serverTls,
      handshakeTimeout: 300,
      onHandshakeError: (error, peer) => failed.resolve([error, peer]),
    });
    const clientTls = {
      caCerts: [tlsFiles.ca],
      cert: tlsFiles.clientCert,
      key: tlsFiles.clientKey,
    };
    const silent = await Deno.connect(tcpAddr(server));
    try {
      // While the silent client holds its handshake open, a good one is served.
      await using good = await openConnection(server.addr, { tls: clientTls });
      assert.equal(await good.send("served"), "served");
      // Only finished handshakes become channels.
      assert.equal(server.channels.size, 1);
      // The server closes the silent connection, and says so.
      await peerClosed(silent);
      const [error, peer] = await failed.promise;
      assert.match(String(error), /timeout/i);
      assert.equal(peer, `127.0.0.1:${silent.localAddr.port}`);
      assert.equal(await good.send("still served"), "still served");
    } finally {
      silent.close();
    }
  });

  Deno.test(`${name} server: closing it ends pending handshakes, which are not reported as failed`, async () => {
    const failed: unknown[] = [];
    const server = await startServer(LOCAL, echo, {
      tls: serverTls,
      onHandshakeError: (error) => failed.push(error),
    });
    const silent = await Deno.connect(tcpAddr(server));
    try {
      // Make sure the server accepted it: a handshake is pending then.
      await using good = await openConnection(server.addr, {
        tls: {
          caCerts: [tlsFiles.ca],
          cert: tlsFiles.clientCert,
          key: tlsFiles.clientKey,
        },
      });
      assert.equal(await good.send("up"), "up");
      await server.close();
      await peerClosed(silent);
      assert.deepEqual(failed, []);
    } finally {
      silent.close();
    }
  });
}

Deno.test("startServer: a bad handshakeTimeout is a RangeError", async () => {
  for (const handshakeTimeout of [-1, NaN]) {
    await assert.rejects(
      startServer(LOCAL, echo, { handshakeTimeout }),
      RangeError,
      "handshakeTimeout",
    );
  }
});

Deno.test("openConnection and startServer: malformed addresses are TypeErrors that quote them", async () => {
  for (
    const addr of [
      "",
      "127.0.0.1",
      "127.0.0.1:5555x",
      "/tmp/aiomas.sock",
      "http://127.0.0.1:5555",
      { port: 5555 },
      { hostname: "127.0.0.1", port: -1 },
      { hostname: "127.0.0.1", port: 1.5 },
      { hostname: "127.0.0.1", port: 70000 },
      [1, 2],
    ]
  ) {
    const quoted = `Invalid address ${JSON.stringify(addr)}: `;
    await assert.rejects(openConnection(addr as never), TypeError, quoted);
    await assert.rejects(startServer(addr as never, echo), TypeError, quoted);
  }
});

Deno.test("startServer: an address in use is AddrInUse, naming the address", async () => {
  await using server = await startServer(LOCAL, echo);
  const { port } = tcpAddr(server);
  const inUse = (error: unknown) => {
    assert.ok(error instanceof Deno.errors.AddrInUse, String(error));
    assert.match(
      error.message,
      new RegExp(`^Address already in use: 127\\.0\\.0\\.1:${port}`),
    );
    return true;
  };
  await assert.rejects(startServer(server.addr, echo), inUse);
  await assert.rejects(startServer(`127.0.0.1:${port}`, echo), inUse);
  await assert.rejects(
    startServer(server.addr, echo, {
      tls: { cert: tlsFiles.serverCert, key: tlsFiles.serverKey },
    }),
    inUse,
  );
  await assert.rejects(
    startServer(server.addr, echo, {
      tls: {
        cert: tlsFiles.serverCert,
        key: tlsFiles.serverKey,
        clientCaCerts: [tlsFiles.ca],
      },
    }),
    inUse,
  );
});

Deno.test("channel options reach every connection of startServer and openConnection", async () => {
  const errors = Promise.withResolvers<unknown>();
  await using server = await startServer(LOCAL, echo, {
    maxFrameSize: 16,
    onError: (error) => errors.resolve(error),
  });
  // The client's limit: what it would send above it is refused, unsent.
  await using small = await openConnection(server.addr, { maxFrameSize: 16 });
  assert.equal(await small.send("short"), "short");
  await assert.rejects(small.send("x".repeat(100)), {
    name: "SerializationError",
    message: /message of 108 bytes .* above maxFrameSize \(16 bytes\)/,
  });
  assert.equal(await small.send("still"), "still");
  // The server's: a client without it that sends more is cut.
  await using large = await openConnection(server.addr);
  await assert.rejects(large.send("x".repeat(100)), ConnectionClosedError);
  const error = await errors.promise;
  assert.ok(error instanceof ProtocolError, String(error));
  assert.match(error.message, /exceeds maxFrameSize 16/);
});

Deno.test("a handler that throws closes only its connection; onError is called", async () => {
  const failure = new Error("handler failed");
  const reported = Promise.withResolvers<[unknown, Channel]>();
  await using server = await startServer(LOCAL, async (channel) => {
    for await (const request of channel) {
      if (request.content === "boom") throw failure;
      await request.reply(`${request.content} ok`);
    }
  }, { onError: (error, channel) => reported.resolve([error, channel]) });
  await using good = await openConnection(server.addr);
  await using bad = await openConnection(server.addr);
  assert.equal(await good.send("before"), "before ok");
  assert.equal(await bad.send("before"), "before ok");
  const pending = bad.send("boom");
  const [error, channel] = await reported.promise;
  assert.equal(error, failure);
  await channel.closed;
  await assert.rejects(pending, ConnectionClosedError);
  await bad.closed;
  assert.equal(await good.send("after"), "after ok");
  assert.equal(server.channels.size, 1);
});

Deno.test("an error reply travels over TCP as a RemoteError", async () => {
  await using server = await startServer(LOCAL, async (channel) => {
    for await (const request of channel) {
      const error = new Error(`no ${request.content}`);
      error.name = "KeyError";
      await request.fail(error);
    }
  });
  await using channel = await openConnection(server.addr);
  const addr = tcpAddr(server);
  await assert.rejects(channel.send("x"), (error) => {
    assert.ok(error instanceof RemoteError);
    assert.equal(error.remoteName, "KeyError");
    assert.equal(error.remoteMessage, "no x");
    assert.equal(error.origin, `127.0.0.1:${addr.port}`);
    return true;
  });
});

Deno.test("bad input over a real socket closes that connection only", async () => {
  const errors = Promise.withResolvers<unknown>();
  await using server = await startServer(LOCAL, echo, {
    onError: (error) => errors.resolve(error),
  });
  const addr = tcpAddr(server);
  await using good = await openConnection(addr);
  assert.equal(await good.send(1), 1);
  const raw = await Deno.connect(addr);
  try {
    // A valid request is answered...
    const request = textFrame('[0, 0, "valid"]');
    await raw.write(request);
    const reply = textFrame('[1,0,"valid"]');
    const buffer = new Uint8Array(reply.length);
    let filled = 0;
    while (filled < reply.length) {
      const n = await raw.read(buffer.subarray(filled));
      assert.notEqual(n, null);
      filled += n!;
    }
    assert.deepEqual(buffer, reply);
    // ...then a header claiming 4 GiB closes the connection.
    await raw.write(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    const error = await errors.promise;
    assert.ok(
      error instanceof ProtocolError,
      `expected ProtocolError, got ${error}`,
    );
    assert.match(
      error.message,
      /length 4294967295 exceeds maxFrameSize 16777216/,
    );
    assert.equal(await good.send(2), 2);
    try {
      assert.equal(await raw.read(buffer), null);
    } catch (error) {
      assert.ok(error instanceof Deno.errors.ConnectionReset, String(error));
    }
  } finally {
    raw.close();
  }
  assert.equal(await good.send(3), 3);
  assert.equal(server.channels.size, 1);
});

Deno.test("a client that disconnects mid-frame does not disturb the server", async () => {
  const errors = Promise.withResolvers<unknown>();
  await using server = await startServer(LOCAL, echo, {
    onError: (error) => errors.resolve(error),
  });
  const addr = tcpAddr(server);
  const raw = await Deno.connect(addr);
  await raw.write(new Uint8Array([0, 0, 0, 10, 1, 2, 3]));
  raw.close();
  const error = await errors.promise;
  assert.ok(error instanceof ProtocolError);
  assert.match(error.message, /ended inside a frame \(3 of 10 payload bytes\)/);
  await using channel = await openConnection(addr);
  assert.equal(await channel.send("fine"), "fine");
});
