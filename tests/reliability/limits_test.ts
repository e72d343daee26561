// The limits that protect a process from its peers, over real sockets:
// maxFrameSize (checked on the header; a frame's buffer grows with the
// bytes received, charged to the process-wide partial frame budget), maxDepth,
// maxDecompressedSize, maxPendingRequests, maxQueuedRequests (a flooder is
// no longer read) and highWaterMark (a sender to a slow reader waits).
//
// Memory is measured as heapUsed + external (external counts ArrayBuffers:
// a frame buffer of N bytes shows up there at once, even untouched).
import assert from "node:assert/strict";
import {
  Channel,
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

const LOCAL = { hostname: "127.0.0.1", port: 0 };
const MiB = 2 ** 20;
const utf8 = new TextEncoder();

type Addr = { hostname: string; port: number };

function memory(): number {
  const usage = Deno.memoryUsage();
  return usage.heapUsed + usage.external;
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

/** Resolves true if `promise` settles within `ms`, false otherwise. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

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

Deno.test("maxPendingRequests: a send beyond it rejects with RangeError and sends nothing", async () => {
  const received: unknown[] = [];
  const arrived: PromiseWithResolvers<void>[] = [];
  const nextArrival = (n: number) =>
    (arrived[n] ??= Promise.withResolvers()).promise;
  const requests: { reply(value: unknown): Promise<void> }[] = [];
  const server = await startServer(LOCAL, async (channel) => {
    for await (const request of channel) {
      requests.push(request);
      received.push(request.content);
      (arrived[received.length - 1] ??= Promise.withResolvers()).resolve();
    }
  });
  try {
    await using client = await openConnection(server.addr, {
      maxPendingRequests: 3,
    });
    const calls = [client.send(0), client.send(1), client.send(2)];
    await assert.rejects(
      client.send(3),
      (error: Error) =>
        error instanceof RangeError && /maxPendingRequests/.test(error.message),
    );
    await nextArrival(2);
    assert.deepEqual(received, [0, 1, 2]);
    // One answered: room for one more, and the next request the server
    // sees is that one, not the refused 3.
    await requests[0].reply("r0");
    assert.equal(await calls[0], "r0");
    const marker = client.send("marker");
    await nextArrival(3);
    assert.deepEqual(received, [0, 1, 2, "marker"]);
    await requests[1].reply("r1");
    await requests[2].reply("r2");
    await requests[3].reply("rm");
    assert.deepEqual(await Promise.all([...calls, marker]), [
      "r0",
      "r1",
      "r2",
      "rm",
    ]);
  } finally {
    await server.close();
  }
});

Deno.test("maxQueuedRequests: a peer flooding a channel that does not recv stops being read; memory stays bounded; nothing is lost", async () => {
  const gate = Promise.withResolvers<void>();
  const server = await startServer(LOCAL, async (channel) => {
    await gate.promise;
    for await (const request of channel) await request.reply(null);
  }, { codec: MsgPackCodec });
  const raw = await RawPeer.connect(server.addr as Addr);
  try {
    // [0, <uint32 id>, <1000 bytes>] in MsgPack, 1014 bytes a frame; ~50 MB.
    const FRAME = 4 + 1 + 1 + 5 + 3 + 1000;
    const PER_CHUNK = 64;
    const FRAMES = 50 * 1024 * 1024 / FRAME >>> 6 << 6;
    const chunk = new Uint8Array(PER_CHUNK * FRAME);
    const view = new DataView(chunk.buffer);
    for (let i = 0; i < PER_CHUNK; i++) {
      const at = i * FRAME;
      view.setUint32(at, FRAME - 4);
      chunk.set([0x93, 0x00, 0xce], at + 4);
      chunk.set([0xc5, 0x03, 0xe8], at + 11);
      chunk.fill(0x61, at + 14, at + FRAME);
    }
    const fill = (firstId: number) => {
      for (let i = 0; i < PER_CHUNK; i++) {
        view.setUint32(i * FRAME + 7, firstId + i);
      }
    };

    const before = memory();
    let peak = before;
    let sent = 0;
    let stalled: Promise<void> | null = null;
    while (sent < FRAMES) {
      fill(sent);
      const write = writeAll(raw.conn, chunk);
      const done = await within(write, 1000);
      peak = Math.max(peak, memory());
      if (!done) {
        stalled = write;
        break;
      }
      sent += PER_CHUNK;
    }
    const acceptedBytes = sent * FRAME;
    const stallPeak = peak - before;
    assert.ok(stalled !== null, "the flooder was never slowed down");
    assert.ok(
      acceptedBytes < 25 * MiB,
      `${mib(acceptedBytes)} were taken before the flooder stalled`,
    );
    assert.ok(stallPeak < 24 * MiB, `memory grew by ${mib(stallPeak)}`);

    // The server takes its requests again: the rest flows, every request
    // is answered exactly once.
    gate.resolve();
    await stalled;
    sent += PER_CHUNK;
    while (sent < FRAMES) {
      fill(sent);
      await writeAll(raw.conn, chunk);
      sent += PER_CHUNK;
      if (sent % (PER_CHUNK * 32) === 0) peak = Math.max(peak, memory());
    }
    const seen = new Uint8Array(FRAMES);
    const codec = new MsgPackCodec();
    const deadline = performance.now() + 30000;
    for (let answered = 0; answered < FRAMES;) {
      const event = await raw.next(deadline);
      assert.ok(
        event !== null && event.kind === "frame",
        `${answered} replies`,
      );
      const [type, id] = codec.decode(event.payload) as [number, number];
      assert.equal(type, 1);
      assert.equal(seen[id], 0, `reply ${id} twice`);
      seen[id] = 1;
      answered++;
      if (answered % 4096 === 0) peak = Math.max(peak, memory());
    }
    console.log(
      `flood: stalled after ${mib(acceptedBytes)}, memory +${
        mib(stallPeak)
      } while stalled, +${mib(peak - before)} peak over ${
        mib(FRAMES * FRAME)
      } and ${FRAMES} replies`,
    );
    assert.ok(peak - before < 64 * MiB, `memory grew by ${mib(peak - before)}`);
  } finally {
    await raw.close();
    await server.close();
  }
});

Deno.test("highWaterMark: a client sending 200 MiB to a server that does not read stays bounded; every reply arrives once it reads", async () => {
  const listener = Deno.listen(LOCAL);
  const client = await openConnection(listener.addr as Addr, {
    codec: MsgPackCodec,
  });
  const conn = await listener.accept();
  try {
    const data = new Uint8Array(MiB);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 10)) & 0xff;
    const N = 200;
    const before = memory();
    const replies = Array.from(
      { length: N },
      (_, i) => client.send([i, data]),
    );
    // Nobody reads: the client queues at most about highWaterMark (1 MiB)
    // plus the frame being written, not 200 MiB. Observe for 500 ms.
    let peak = before;
    for (let t = 0; t < 25; t++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      peak = Math.max(peak, memory());
    }
    const stalled = peak - before;
    assert.ok(stalled < 24 * MiB, `memory grew by ${mib(stalled)}`);

    // The server reads again: all 200 replies arrive, each for its request.
    const server = new Channel(conn, { codec: new MsgPackCodec() });
    const serving = (async () => {
      for await (const request of server) {
        const [i, bytes] = request.content as [number, Uint8Array];
        await request.reply([i, bytes.length, bytes[i * 4099 % bytes.length]]);
      }
    })();
    const results = await Promise.all(replies);
    results.forEach((result, i) =>
      assert.deepEqual(result, [i, data.length, data[i * 4099 % data.length]])
    );
    console.log(
      `slow consumer: memory +${mib(stalled)} while 200 MiB waited to be sent`,
    );
    await client.close();
    await server.close();
    await serving;
  } finally {
    await client.close();
    try {
      conn.close();
    } catch {
      // Closed by the server channel.
    }
    listener.close();
  }
});
