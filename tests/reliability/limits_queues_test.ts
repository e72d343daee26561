// The limits on what may wait, over real sockets: maxPendingRequests,
// maxQueuedRequests (a flooder is no longer read) and highWaterMark (a
// sender to a slow reader waits).
import assert from "node:assert/strict";
import {
  Channel,
  MsgPackCodec,
  openConnection,
  startServer,
} from "../../mod.ts";
import { RawPeer, writeAll } from "./_fuzz.ts";
import { type Addr, LOCAL, memory, MiB, mib } from "./_limits_helpers.ts";

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
