// Options of startServer and openConnection that reach every connection:
// codec, serializers and channel options.
import assert from "node:assert/strict";
import {
  type Channel,
  openConnection,
  startServer,
} from "../../channel/mod.ts";
import { MsgPackCodec, serializable } from "../../codecs/mod.ts";
import { ConnectionClosedError, ProtocolError } from "../../errors.ts";
import { within } from "../_within.ts";
import {
  echo,
  LOCAL,
  peerClosed,
  serve,
  tcpAddr,
  tlsFiles,
} from "./_connection_helpers.ts";

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

Deno.test("maxConnections: a connection beyond it is closed at once and reported; one that closes makes room", async () => {
  const refused: string[] = [];
  const gotRefusal = Promise.withResolvers<void>();
  const accepted: Channel[] = [];
  await using server = await startServer(LOCAL, (channel) => {
    accepted.push(channel);
    return echo(channel);
  }, {
    maxConnections: 2,
    onConnectionRefused: (peer) => {
      refused.push(peer);
      gotRefusal.resolve();
    },
  });
  const first = await openConnection(server.addr);
  await using second = await openConnection(server.addr);
  assert.equal(await first.send(1), 1);
  assert.equal(await second.send(2), 2);
  assert.equal(server.channels.size, 2);
  // The third is accepted by the kernel, then closed before a channel is
  // made for it: its call fails, nothing is held for it.
  await using third = await openConnection(server.addr);
  await assert.rejects(third.send(3), ConnectionClosedError);
  await gotRefusal.promise;
  assert.equal(refused.length, 1);
  assert.match(refused[0], /^127\.0\.0\.1:\d+$/);
  assert.equal(server.channels.size, 2);
  // A closed one makes room for the next.
  await first.close();
  await accepted[0].closed;
  await using fourth = await openConnection(server.addr);
  assert.equal(await fourth.send(4), 4);
});

Deno.test("maxConnections over TLS counts handshakes under way: a client that never sends a ClientHello holds a place", async () => {
  const refused: string[] = [];
  const handshakeErrors: string[] = [];
  let refusal = Promise.withResolvers<void>();
  await using server = await startServer(LOCAL, echo, {
    tls: { cert: tlsFiles.serverCert, key: tlsFiles.serverKey },
    handshakeTimeout: Infinity,
    maxConnections: 2,
    onHandshakeError: (_error, peer) => handshakeErrors.push(peer),
    onConnectionRefused: (peer) => {
      refused.push(peer);
      refusal.resolve();
    },
  });
  const { port } = tcpAddr(server);
  // Two silent clients take both places, with no channel made.
  const silent = [
    await Deno.connect({ hostname: "127.0.0.1", port }),
    await Deno.connect({ hostname: "127.0.0.1", port }),
  ];
  try {
    // A third is closed before any handshake, and reported.
    const third = await Deno.connect({ hostname: "127.0.0.1", port });
    await within(10_000, "the third connection's end", peerClosed(third));
    third.close();
    await refusal.promise;
    assert.equal(refused.length, 1);
    assert.match(refused[0], /^127\.0\.0\.1:\d+$/);
    // So is a real client.
    refusal = Promise.withResolvers<void>();
    await assert.rejects(
      openConnection(server.addr, { tls: { caCerts: [tlsFiles.ca] } }),
    );
    await refusal.promise;
    assert.equal(server.channels.size, 0);
  } finally {
    for (const conn of silent) conn.close();
  }
  // Gone, they make room again (retried until the server has seen them go).
  await using channel = await openConnection(server.addr, {
    tls: { caCerts: [tlsFiles.ca] },
    retry: true,
    timeout: 10_000,
  });
  assert.equal(await channel.send("ok"), "ok");
  // A refused connection is reported as that, not as a failed handshake
  // too (the silent ones are: they went without finishing theirs).
  for (const peer of refused) assert.ok(!handshakeErrors.includes(peer), peer);
});

Deno.test("maxConnections over TLS: a connection whose handshake just finished counts before the server has taken it", async () => {
  await using server = await startServer(LOCAL, echo, {
    tls: { cert: tlsFiles.serverCert, key: tlsFiles.serverKey },
    handshakeTimeout: Infinity,
    maxConnections: 1,
  });
  const { port } = tcpAddr(server);
  for (let i = 0; i < 5; i++) {
    await using channel = await openConnection(server.addr, {
      tls: { caCerts: [tlsFiles.ca] },
      retry: true,
      timeout: 10_000,
    });
    // At once, while the first may still be on its way to the server.
    const silent = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await within(10_000, "the second connection's end", peerClosed(silent));
    } finally {
      silent.close();
    }
    assert.equal(await channel.send(i), i);
  }
});

Deno.test("maxConnections: a whole number from 1 up, or Infinity", async () => {
  for (const bad of [0, -1, 1.5, NaN]) {
    await assert.rejects(
      startServer(LOCAL, echo, { maxConnections: bad }),
      RangeError,
    );
  }
  await using server = await startServer(LOCAL, echo, {
    maxConnections: Infinity,
  });
  await using channel = await openConnection(server.addr);
  assert.equal(await channel.send("ok"), "ok");
});
