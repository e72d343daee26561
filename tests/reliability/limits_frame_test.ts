// The limits on what one incoming frame may hold, over real sockets:
// maxFrameSize (checked on the header; a frame's buffer grows with the
// bytes received, charged to the process-wide partial frame budget),
// maxDepth and maxDecompressedSize.
import assert from "node:assert/strict";
import {
  type CodecClass,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
  openConnection,
  ProtocolError,
  rpc,
  SerializationError,
  startServer,
  type StartServerOptions,
} from "../../mod.ts";
import { partialFrameBudget } from "../../channel/mod.ts";
import { frame, FuzzService, RawPeer, writeAll } from "./_fuzz.ts";
import { concat } from "../_frames.ts";
import { type Addr, LOCAL, memory, MiB, mib } from "./_limits_helpers.ts";

const utf8 = new TextEncoder();

/**
 * A channel server that answers every request with its content and tells
 * how each connection ended, by the peer's address: undefined for a clean
 * close, else the error.
 */
async function echoServer(options: StartServerOptions = {}) {
  const outcomes = new Map<string, Promise<unknown>>();
  const server = await startServer(LOCAL, async (channel) => {
    outcomes.set(channel.peer, channel.closed.then(() => undefined, (e) => e));
    try {
      for await (const request of channel) {
        await request.reply(request.content);
      }
    } catch {
      // The channel failed: `closed` says why.
    }
  }, options);
  return {
    server,
    addr: server.addr as Addr,
    outcome: (peer: string) => outcomes.get(peer)!,
  };
}

/** An RPC server that records how each connection ended, by peer. */
async function rpcServer(codec: CodecClass) {
  const outcomes = new Map<string, Promise<unknown>>();
  const server = await rpc.startServer(LOCAL, new FuzzService(), {
    codec,
    onConnection: (client) => {
      outcomes.set(
        client.channel.peer,
        client.closed.then(() => undefined, (e) => e),
      );
    },
  });
  return {
    server,
    addr: server.addr as Addr,
    outcome: (peer: string) => outcomes.get(peer)!,
  };
}

/** Waits for the server to close the raw connection (at most `ms`). */
async function expectClosed(raw: RawPeer, ms = 2000): Promise<number> {
  const started = performance.now();
  for (;;) {
    const event = await raw.next(started + ms);
    assert.ok(event !== null, `the server did not close within ${ms} ms`);
    if (event.kind === "closed") return performance.now() - started;
  }
}

Deno.test("maxFrameSize: a 4 GiB header closes that connection at once, before anything is allocated", async () => {
  const { server, addr, outcome } = await echoServer();
  try {
    await using good = await openConnection(addr);
    assert.equal(await good.send("before"), "before");
    const raw = await RawPeer.connect(addr);
    const before = memory();
    await writeAll(
      raw.conn,
      concat([new Uint8Array([0xff, 0xff, 0xff, 0xff]), new Uint8Array(16)]),
    );
    const elapsed = await expectClosed(raw);
    const grown = memory() - before;
    const error = await outcome(raw.name);
    assert.ok(error instanceof ProtocolError, String(error));
    assert.match(
      error.message,
      /length 4294967295 exceeds maxFrameSize 16777216/,
    );
    assert.ok(elapsed < 500, `closed after ${elapsed.toFixed(0)} ms`);
    assert.ok(grown < 8 * MiB, `memory grew by ${mib(grown)}`);
    console.log(
      `4 GiB header: closed after ${elapsed.toFixed(1)} ms, memory ${
        mib(grown)
      }`,
    );
    // Other connections are not affected.
    assert.equal(await good.send("after"), "after");
    await raw.close();
  } finally {
    await server.close();
  }
});

Deno.test("maxFrameSize: a header at the limit reserves nothing until its bytes arrive; one byte more is refused", async () => {
  const limit = 32 * MiB;
  const { server, addr, outcome } = await echoServer({ maxFrameSize: limit });
  try {
    const header = (length: number) => {
      const bytes = new Uint8Array(4);
      new DataView(bytes.buffer).setUint32(0, length);
      return bytes;
    };
    const request = frame(utf8.encode('[0, 0, "sync"]'));
    // A request, then a header at the limit and 10 bytes in the same write:
    // when the reply comes, the server has read the header and those bytes.
    const allowed = await RawPeer.connect(addr);
    const before = partialFrameBudget().held;
    await writeAll(
      allowed.conn,
      concat([request, header(limit), new Uint8Array(10)]),
    );
    const reply = await allowed.next(performance.now() + 2000);
    assert.equal(reply?.kind, "frame");
    const held = partialFrameBudget().held - before;
    assert.ok(
      held > 0 && held <= 64 * 1024,
      `a header claiming ${limit} bytes followed by 10 holds ${held} bytes`,
    );

    const refused = await RawPeer.connect(addr);
    await writeAll(
      refused.conn,
      concat([request, header(limit + 1), new Uint8Array(10)]),
    );
    await expectClosed(refused);
    const error = await outcome(refused.name);
    assert.ok(error instanceof ProtocolError);
    assert.match(
      error.message,
      /length 33554433 exceeds maxFrameSize 33554432/,
    );
    // The allowed frame is unfinished: EOF there is a ProtocolError too,
    // and what it held is released.
    await allowed.close();
    const unfinished = await outcome(allowed.name);
    assert.ok(unfinished instanceof ProtocolError);
    assert.match(unfinished.message, /ended inside a frame/);
    assert.equal(partialFrameBudget().held, before);
    await refused.close();
  } finally {
    await server.close();
  }
});

/** Nested arrays `depth` deep around 1. */
function nest(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** `[0, 1, ["echo", [<nesting>], {}]]` as raw bytes of a codec. */
async function deepRequest(
  codec: CodecClass,
  depth: number,
): Promise<Uint8Array> {
  if (codec === JsonCodec) {
    return utf8.encode(
      `[0, 1, ["echo", [${"[".repeat(depth)}1${"]".repeat(depth)}], {}]]`,
    );
  }
  const nested = new Uint8Array(depth + 1).fill(0x91);
  nested[depth] = 0x01;
  const packed = concat([
    new Uint8Array([
      0x93,
      0x00,
      0x01,
      0x93,
      0xa4,
      ...utf8.encode("echo"),
      0x91,
    ]),
    nested,
    new Uint8Array([0x80]),
  ]);
  if (codec === MsgPackCodec) return packed;
  // A stored (memcpy) c-blosc 1.x frame around it.
  const out = new Uint8Array(16 + packed.length);
  const view = new DataView(out.buffer);
  out.set([2, 1, 0x13, 8]);
  view.setUint32(4, packed.length, true);
  view.setUint32(8, packed.length, true);
  view.setUint32(12, out.length, true);
  out.set(packed, 16);
  return await Promise.resolve(out);
}

for (const codec of [JsonCodec, MsgPackCodec, MsgPackBloscCodec]) {
  Deno.test(`maxDepth (${codec.name}): deep nesting from a raw peer closes its connection with a clear error; others are served`, async () => {
    const { server, addr, outcome } = await rpcServer(codec);
    try {
      await using good = await rpc.openConnection(addr, { codec });
      assert.equal(await good.call("add", [1, 2]), 3);
      // Within the limit both ways.
      assert.deepEqual(await good.call("echo", [nest(100)]), nest(100));
      // Too deep to send: refused locally, nothing is sent.
      await assert.rejects(
        good.call("echo", [nest(200)]),
        (error: Error) =>
          error instanceof SerializationError &&
          /maxDepth 128/.test(error.message),
      );
      const raw = await RawPeer.connect(addr);
      await writeAll(raw.conn, frame(await deepRequest(codec, 200)));
      await expectClosed(raw);
      const error = await outcome(raw.name);
      assert.ok(error instanceof ProtocolError, String(error));
      assert.match(error.message, /nesting deeper than maxDepth 128/);
      assert.equal(await good.call("add", [2, 3]), 5);
      await raw.close();
      // A whole 100 000 levels: no stack overflow, the same clean refusal.
      const raw2 = await RawPeer.connect(addr);
      await writeAll(raw2.conn, frame(await deepRequest(codec, 100000)));
      await expectClosed(raw2);
      const error2 = await outcome(raw2.name);
      assert.ok(error2 instanceof ProtocolError, String(error2));
      assert.match(error2.message, /maxDepth 128/);
      assert.equal(await good.call("add", [3, 4]), 7);
      await raw2.close();
    } finally {
      await server.close();
    }
  });
}

Deno.test("maxDecompressedSize: a blosc header claiming 16 MiB + 1 closes the connection before decompressing", async () => {
  const { server, addr, outcome } = await rpcServer(MsgPackBloscCodec);
  try {
    await using good = await rpc.openConnection(addr, {
      codec: MsgPackBloscCodec,
    });
    const bomb = new Uint8Array(32);
    const view = new DataView(bomb.buffer);
    bomb.set([2, 1, 0x01, 8]);
    view.setUint32(4, 16 * MiB + 1, true);
    view.setUint32(8, 16 * MiB + 1, true);
    view.setUint32(12, bomb.length, true);
    const raw = await RawPeer.connect(addr);
    const before = memory();
    await writeAll(raw.conn, frame(bomb));
    await expectClosed(raw);
    const grown = memory() - before;
    const error = await outcome(raw.name);
    assert.ok(error instanceof ProtocolError);
    assert.match(
      error.message,
      /16777217 bytes exceed maxDecompressedSize 16777216/,
    );
    assert.ok(grown < 8 * MiB, `memory grew by ${mib(grown)}`);
    assert.equal(await good.call("add", [1, 2]), 3);
    await raw.close();
  } finally {
    await server.close();
  }
});
