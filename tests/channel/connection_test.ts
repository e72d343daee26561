import assert from "node:assert/strict";
import { textFrame } from "../_frames.ts";
import { fileURLToPath } from "node:url";
import {
  type Channel,
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
 * attempt was refused (the retry loop gives no other sign of it).
 */
async function withRefusalHook<T>(
  fn: (refused: Promise<void>) => Promise<T>,
): Promise<T> {
  const realConnect = Deno.connect;
  const refused = Promise.withResolvers<void>();
  Deno.connect = (async (options: Deno.ConnectOptions) => {
    try {
      return await realConnect(options);
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionRefused) refused.resolve();
      throw error;
    }
  }) as typeof Deno.connect;
  try {
    return await fn(refused.promise);
  } finally {
    Deno.connect = realConnect;
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
  await using byPort = await openConnection({ port: addr.port });
  assert.equal(await byPort.send(2), "2 back");
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
    const server = await startServer(path, echo);
    assert.equal(server.addr, path);
    assert.ok((await Deno.lstat(path)).isSocket);
    const channel = await openConnection(path);
    assert.equal(channel.peer, path);
    assert.deepEqual(await channel.send({ via: "unix" }), { via: "unix" });
    await server.close();
    await channel.closed;
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
    await assert.rejects(openConnection(path), Deno.errors.NotFound);
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
    await using server = await startServer(path, echo);
    await using channel = await openConnection(server.addr);
    assert.equal(await channel.send("fresh"), "fresh");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
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

Deno.test("TLS: a plain-TCP client fails only its own connection", async () => {
  const errors: unknown[] = [];
  await using server = await startServer(LOCAL, echo, {
    tls: { cert: tlsFiles.serverCert, key: tlsFiles.serverKey },
    onError: (error) => errors.push(error),
  });
  // The server answers the cleartext request with a TLS alert: not a frame.
  const plain = await openConnection(server.addr);
  await assert.rejects(plain.send("hello?"), ConnectionClosedError);
  await assert.rejects(plain.closed, ProtocolError);
  await plain.close();
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

Deno.test("mutual TLS: only clients with a certificate from the CA are served", async () => {
  await using server = await startServer(LOCAL, echo, {
    tls: {
      cert: tlsFiles.serverCert,
      key: tlsFiles.serverKey,
      clientCaCerts: [tlsFiles.ca],
    },
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
  assert.equal(
    typeof server.addr === "string" ? 0 : server.addr.port > 0,
    true,
  );
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

Deno.test("openConnection: a closed port with timeout 0 is ConnectionRefused", async () => {
  const port = freePort();
  await assert.rejects(
    openConnection({ hostname: "127.0.0.1", port }, { timeout: 0 }),
    Deno.errors.ConnectionRefused,
  );
  await assert.rejects(
    openConnection(["127.0.0.1", port]),
    Deno.errors.ConnectionRefused,
  );
});

Deno.test("openConnection: with a timeout it retries until the server is up", async () => {
  const port = freePort();
  await withRefusalHook(async (refused) => {
    const connecting = openConnection({ hostname: "127.0.0.1", port }, {
      timeout: 5,
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

Deno.test("openConnection: retrying stops when the signal aborts", async () => {
  const port = freePort();
  await withRefusalHook(async (refused) => {
    const controller = new AbortController();
    const reason = new Error("gave up");
    const connecting = openConnection({ hostname: "127.0.0.1", port }, {
      timeout: Infinity,
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

Deno.test("openConnection and startServer: malformed addresses are TypeErrors", async () => {
  for (
    const addr of ["", { port: -1 }, { port: 1.5 }, { port: 70000 }, [1, 2]]
  ) {
    await assert.rejects(
      openConnection(addr as never),
      TypeError,
      JSON.stringify(addr),
    );
    await assert.rejects(
      startServer(addr as never, echo),
      TypeError,
      JSON.stringify(addr),
    );
  }
});

Deno.test("startServer: an address in use is AddrInUse", async () => {
  await using server = await startServer(LOCAL, echo);
  await assert.rejects(startServer(server.addr, echo), Deno.errors.AddrInUse);
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
      /length 4294967295 exceeds maxFrameSize 67108864/,
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
