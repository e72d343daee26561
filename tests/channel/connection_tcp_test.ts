// Channels over TCP from startServer and openConnection: round trips,
// server.close(), and failures that close only their own connection.
import assert from "node:assert/strict";
import { textFrame } from "../_frames.ts";
import {
  type Channel,
  openConnection,
  type Request,
  startServer,
} from "../../channel/mod.ts";
import {
  ConnectionClosedError,
  ProtocolError,
  RemoteError,
} from "../../errors.ts";
import { echo, LOCAL, serve, tcpAddr } from "./_connection_helpers.ts";

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

Deno.test("an onError that throws is logged; its connection closes and the others are served", async () => {
  const logged = Promise.withResolvers<unknown[]>();
  const error = console.error;
  console.error = (...args: unknown[]) => logged.resolve(args);
  try {
    await using server = await startServer(LOCAL, async (channel) => {
      for await (const request of channel) {
        if (request.content === "boom") throw new Error("handler failed");
        await request.reply(`${request.content} ok`);
      }
    }, {
      onError: () => {
        throw new Error("onError failed");
      },
    });
    await using good = await openConnection(server.addr);
    await using bad = await openConnection(server.addr);
    const pending = bad.send("boom");
    const [text, thrown] = await logged.promise;
    assert.equal(text, "aiomas: onError threw:");
    assert.equal((thrown as Error).message, "onError failed");
    await assert.rejects(pending, ConnectionClosedError);
    await bad.closed;
    assert.equal(await good.send("after"), "after ok");
  } finally {
    console.error = error;
  }
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
    // It names the client, as the server's log shows it.
    const { port } = raw.localAddr as Deno.NetAddr;
    assert.match(
      error.message,
      new RegExp(
        `^Cannot decode frame from 127\\.0\\.0\\.1:${port}: length 4294967295 exceeds maxFrameSize 16777216`,
      ),
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
