// maxFrameSize on the sending side: a message above it is refused before
// anything is sent, so the connection (and every other call on it) lives on.
import assert from "node:assert/strict";
import {
  Channel,
  createMemoryPair,
  openConnection,
  startServer,
} from "../../channel/mod.ts";
import {
  type CodecClass,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";
import {
  ProtocolError,
  RemoteError,
  SerializationError,
} from "../../errors.ts";
import { textFrame } from "../_frames.ts";
import { expose, RpcClient } from "../../rpc/mod.ts";

const LIMIT = 64 * 1024;

/** A value whose frame is above LIMIT: a large byte string, or text for JSON. */
function tooLarge(codec: CodecClass): unknown {
  if (codec === JsonCodec) return "x".repeat(3 * LIMIT);
  // Random bytes: Blosc cannot shrink them below the limit.
  const bytes = new Uint8Array(3 * LIMIT);
  for (let at = 0; at < bytes.length; at += LIMIT) {
    crypto.getRandomValues(bytes.subarray(at, at + LIMIT));
  }
  return bytes;
}

/** Two channels over a memory pair, both with maxFrameSize LIMIT. */
function pair(codec: CodecClass): [Channel, Channel] {
  const [a, b] = createMemoryPair();
  const options = { maxFrameSize: LIMIT, peer: "the peer" };
  return [
    new Channel(a, { ...options, codec: new codec() }),
    new Channel(b, { ...options, codec: new codec() }),
  ];
}

const CODECS: [string, CodecClass][] = [
  ["JSON", JsonCodec],
  ["MsgPack", MsgPackCodec],
  ["MsgPack+Blosc", MsgPackBloscCodec],
];

for (const [name, codec] of CODECS) {
  Deno.test(`maxFrameSize (${name}): a request above it rejects with SerializationError and the channel goes on`, async () => {
    const [client, server] = pair(codec);
    const serving = (async () => {
      for (;;) {
        const request = await server.recv().catch(() => null);
        if (request === null) return;
        await request.reply(request.content);
      }
    })();
    const pending = client.send("before");
    await assert.rejects(client.send(tooLarge(codec)), (error: unknown) => {
      assert.ok(error instanceof SerializationError, String(error));
      // JSON and MsgPack stop encoding at the limit; Blosc's frame is
      // compressed whole (its bytes before compression are far below its
      // maxDecompressedSize) and its length known.
      assert.match(
        error.message,
        codec === MsgPackBloscCodec
          ? /^Cannot send a message of \d+ bytes to the peer: it is above maxFrameSize \(65536 bytes\)/
          : /^Cannot send a message of more than 65536 bytes to the peer: it is above maxFrameSize \(65536 bytes\), the largest frame a peer with the same limit reads$/,
      );
      return true;
    });
    assert.equal(await pending, "before");
    assert.equal(await client.send("after"), "after");
    assert.equal(client.isClosed, false);
    await client.close();
    await server.close();
    await serving;
  });

  Deno.test(`maxFrameSize (${name}): a reply above it is refused, the request stays open for fail()`, async () => {
    const [client, server] = pair(codec);
    const call = client.send("give me a lot");
    const request = await server.recv();
    await assert.rejects(request.reply(tooLarge(codec)), SerializationError);
    assert.equal(request.answered, false);
    await request.fail(new RangeError("too much"));
    await assert.rejects(call, (error: unknown) => {
      assert.ok(error instanceof RemoteError);
      assert.equal(error.remoteName, "RangeError");
      return true;
    });
    assert.equal(server.isClosed, false);
    await client.close();
    await server.close();
  });

  Deno.test(`maxFrameSize (${name}): an RPC result above it becomes an error reply naming the limit`, async () => {
    const [a, b] = createMemoryPair();
    const options = { maxFrameSize: LIMIT };
    class Service {
      @expose
      big(): unknown {
        return tooLarge(codec);
      }
      @expose
      small(): string {
        return "fine";
      }
    }
    const service = new Service();
    const server = new RpcClient(
      new Channel(b, { ...options, codec: new codec() }),
      { service },
    );
    const client = new RpcClient<Service>(
      new Channel(a, { ...options, codec: new codec() }),
    );
    await assert.rejects(client.remote.big(), (error: unknown) => {
      assert.ok(error instanceof RemoteError);
      assert.equal(error.remoteName, "SerializationError");
      assert.match(error.remoteMessage, /above maxFrameSize \(65536 bytes\)/);
      return true;
    });
    assert.equal(await client.remote.small(), "fine");
    await client.close();
    await server.close();
  });
}

for (const [name, codec] of CODECS) {
  Deno.test(`maxFrameSize (${name}): an error reply above it is still an error of the same name`, async () => {
    const [a, b] = createMemoryPair();
    const options = { maxFrameSize: 200, codec: new codec() };
    const client = new Channel(a, { ...options, codec: new codec() });
    const server = new Channel(b, options);
    const call = client.send("fail");
    const request = await server.recv();
    await request.fail(new RangeError("x".repeat(1000)));
    assert.equal(request.answered, true);
    await assert.rejects(call, (error: unknown) => {
      assert.ok(error instanceof RemoteError);
      assert.equal(error.remoteName, "RangeError");
      assert.equal(error.remoteMessage, "(its text was above maxFrameSize)");
      return true;
    });
    await client.close();
    await server.close();
  });
}

Deno.test("maxFrameSize: a request whose id makes every reply too large closes the channel, naming why", async () => {
  const [a, b] = createMemoryPair();
  const server = new Channel(b, { maxFrameSize: 200 });
  const id = "i".repeat(150);
  const writer = a.writable.getWriter();
  await writer.write(textFrame(`[0, "${id}", "x"]`));
  const request = await server.recv();
  await assert.rejects(request.reply("r".repeat(100)), SerializationError);
  await assert.rejects(request.fail(new RangeError("e".repeat(100))));
  await assert.rejects(server.closed, (error: unknown) => {
    assert.ok(error instanceof ProtocolError, String(error));
    assert.match(error.message, /its id cannot be sent back/);
    return true;
  });
  await writer.close().catch(() => {}); // reset by the channel
});

Deno.test("maxFrameSize: a frame of exactly the limit is sent, one byte more is not", async () => {
  const [client, server] = pair(MsgPackCodec);
  // fixarray(3), type 0, id 0 and a bin16 header: 6 bytes around the payload.
  await assert.rejects(
    client.send(new Uint8Array(LIMIT - 5)),
    /message of 65537 bytes/,
  );
  const call = client.send(new Uint8Array(LIMIT - 6));
  const request = await server.recv();
  assert.equal((request.content as Uint8Array).length, LIMIT - 6);
  await request.reply(null);
  assert.equal(await call, null);
  await client.close();
  await server.close();
});

Deno.test("maxFrameSize and the other checked limits: out of range is a RangeError at once, also for a server", async () => {
  for (const maxFrameSize of [0, -1, 1.5, NaN]) {
    const [a, b] = createMemoryPair();
    assert.throws(() => new Channel(a, { maxFrameSize }), RangeError);
    await a.writable.close();
    await b.writable.close();
    await assert.rejects(
      startServer("127.0.0.1:0", () => {}, { maxFrameSize }),
      RangeError,
      "maxFrameSize",
    );
  }
  // Before, a bad limit of a server's channels threw at its first connection.
  await assert.rejects(
    startServer("127.0.0.1:0", () => {}, { maxConcurrentRequests: 0 }),
    RangeError,
    "maxConcurrentRequests",
  );
  await assert.rejects(
    startServer("127.0.0.1:0", () => {}, { frameTimeout: -1 }),
    RangeError,
    "frameTimeout",
  );
});

Deno.test("every channel option that could hang a channel is checked: by Channel, by startServer, and by openConnection before it connects", async () => {
  const bad: [Record<string, unknown>, RegExp, typeof Error][] = [
    [{ maxQueuedRequests: 0 }, /maxQueuedRequests/, RangeError],
    [{ maxQueuedRequests: -1 }, /maxQueuedRequests/, RangeError],
    [{ maxQueuedRequests: NaN }, /maxQueuedRequests/, RangeError],
    [{ maxPendingRequests: NaN }, /maxPendingRequests/, RangeError],
    [{ maxPendingRequests: 0 }, /maxPendingRequests/, RangeError],
    [{ highWaterMark: -5 }, /highWaterMark/, RangeError],
    [{ highWaterMark: NaN }, /highWaterMark/, RangeError],
    [{ maxConcurrentRequests: 0 }, /maxConcurrentRequests/, RangeError],
    [{ frameTimeout: -1 }, /frameTimeout/, RangeError],
    [{ errorFormat: "bogus" }, /errorFormat/, TypeError],
  ];
  let accepted = 0;
  await using server = await startServer("127.0.0.1:0", async (channel) => {
    accepted++;
    for await (const request of channel) await request.reply(request.content);
  });
  for (const [options, message, type] of bad) {
    const [a, b] = createMemoryPair();
    assert.throws(() => new Channel(a, options), type, String(message));
    await a.writable.close();
    await b.writable.close();
    await assert.rejects(
      startServer("127.0.0.1:0", () => {}, options),
      type,
      String(message),
    );
    await assert.rejects(openConnection(server.addr, options), (error) => {
      assert.ok(error instanceof type, String(error));
      assert.match((error as Error).message, message);
      return true;
    });
  }
  // Connections are accepted in order: had a refused one connected, it
  // would have come before this one.
  // 0 and Infinity (no limit) are taken.
  for (
    const limits of [{ highWaterMark: 0 }, {
      highWaterMark: Infinity,
      maxQueuedRequests: Infinity,
      maxPendingRequests: Infinity,
    }]
  ) {
    const [a, b] = createMemoryPair();
    await using left = new Channel(a, limits);
    await using right = new Channel(b);
    right.recv().then((request) => request.reply("pong"), () => {});
    assert.equal(await left.send("ping"), "pong");
  }
  await using good = await openConnection(server.addr, {
    highWaterMark: Infinity,
    maxPendingRequests: Infinity,
  });
  assert.equal(await good.send("ok"), "ok");
  assert.equal(accepted, 1);
});

Deno.test("maxFrameSize above the default raises the decoded-size budget of the codecs made for it", async () => {
  const maxFrameSize = 24 * 1024 * 1024;
  const text = "b".repeat(20 * 1024 * 1024);
  // Codecs made from a class (startServer, openConnection) …
  await using server = await startServer("127.0.0.1:0", async (channel) => {
    for await (const request of channel) await request.reply(request.content);
  }, { codec: MsgPackCodec, maxFrameSize });
  await using client = await openConnection(server.addr, {
    codec: MsgPackCodec,
    maxFrameSize,
  });
  assert.equal(await client.send(text), text);
  // … and a channel's default JsonCodec.
  const [a, b] = createMemoryPair();
  await using left = new Channel(a, { maxFrameSize });
  await using right = new Channel(b, { maxFrameSize });
  const call = left.send(text);
  const request = await right.recv();
  assert.equal((request.content as string).length, text.length);
  await request.reply(null);
  assert.equal(await call, null);
});
