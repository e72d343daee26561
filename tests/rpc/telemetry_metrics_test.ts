// The metrics read from connections and budgets when a meter provider
// collects: bytes each way and requests held by codec, the process-wide
// budgets and how often they were hit, ProtocolErrors as connections
// closed with that reason. In-memory providers (tests/_telemetry.ts).
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { createNoopMeter } from "npm:@opentelemetry/api@^1.9.0";
import type { DataPoint } from "npm:@opentelemetry/sdk-metrics@^2.12.1";
import { Recorder } from "../_telemetry.ts";
import {
  Channel,
  createMemoryPair,
  partialFrameBudget,
  setPartialFrameBudget,
  setUnansweredBudget,
  unansweredBudget,
} from "../../channel/mod.ts";
import { FrameParser } from "../../channel/_frame_parser.ts";
import {
  type Codec,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";
import { ProtocolError } from "../../errors.ts";
import { RpcClient, ServiceDict } from "../../rpc/mod.ts";
import { instruments } from "../../rpc/_telemetry_metrics.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

const calculator = new ServiceDict({ add: (a: number, b: number) => a + b });

/** The value of the metric's point whose attributes include `match`. */
function valueOf(
  points: DataPoint<unknown>[],
  match: Record<string, unknown> = {},
): unknown {
  const found = points.filter((point) =>
    Object.entries(match).every(([key, value]) =>
      point.attributes[key] === value
    )
  );
  assert.equal(found.length, 1, `one point of ${JSON.stringify(match)}`);
  return found[0].value;
}

/** A frame header: the payload length, big-endian. */
function header(length: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, length);
  return bytes;
}

/** Lets the channels run for a while (they would read meanwhile if they could). */
async function turns(count = 20): Promise<void> {
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** An RPC server on one end of a memory pair and a raw writer on the other. */
function rawServer(recorder: Recorder, maxFrameSize?: number) {
  const [a, b] = createMemoryPair();
  const channel = new Channel(b, { maxFrameSize });
  const server = new RpcClient(channel, {
    service: calculator,
    telemetry: recorder.options,
  });
  const writer = a.writable.getWriter();
  const reader = a.readable.getReader();
  return {
    channel,
    write: (bytes: Uint8Array) => writer.write(bytes),
    async close() {
      await server.close({ timeout: 0 });
      writer.releaseLock();
      reader.releaseLock();
    },
  };
}

for (
  const make of [
    () => new JsonCodec(),
    () => new MsgPackCodec(),
    () => new MsgPackBloscCodec(),
  ] as (() => Codec)[]
) {
  const name = make().name;
  Deno.test(`bytes received and sent are counted by codec (${name}), and kept when connections close`, async () => {
    await using recorder = new Recorder();
    const codec = make();
    const [a, b] = createMemoryPair();
    const clientChannel = new Channel(a, { codec: make() });
    const serverChannel = new Channel(b, { codec: make() });
    const server = new RpcClient(serverChannel, {
      service: calculator,
      telemetry: recorder.options,
    });
    const client = new RpcClient(clientChannel, {
      telemetry: recorder.options,
    });
    try {
      assert.equal(await client.call("add", [3, 4]), 7);
      // The frames of the exchange: a 4-byte header and the payload each.
      const request = 4 +
        (await codec.encode([0, 0, ["add", [3, 4], {}]])).length;
      const reply = 4 + (await codec.encode([1, 0, 7])).length;
      assert.deepEqual(clientChannel.stats, {
        bytesReceived: reply,
        bytesSent: request,
        requestsQueued: 0,
        requestsUnanswered: 0,
      });
      assert.deepEqual(serverChannel.stats, {
        bytesReceived: request,
        bytesSent: reply,
        requestsQueued: 0,
        requestsUnanswered: 0,
      });
      // Both ends record into the same provider: each way sums both.
      const both = request + reply;
      const attributes = { "rpc.system": "aiomas", "aiomas.codec": name };
      const received = await recorder.points("aiomas.rpc.bytes.received");
      const sent = await recorder.points("aiomas.rpc.bytes.sent");
      assert.deepEqual(received.map((p) => p.attributes), [attributes]);
      assert.equal(valueOf(received), both);
      assert.equal(valueOf(sent), both);
      const found = instruments(recorder.meterProvider)!;
      assert.equal(found.counted.size, 2);
      await client.close();
      await server.closed;
      await server.close();
      // Closed connections are let go of; their bytes stay counted.
      assert.equal(found.counted.size, 0);
      assert.equal(
        valueOf(await recorder.points("aiomas.rpc.bytes.received")),
        both,
      );
      assert.equal(
        valueOf(await recorder.points("aiomas.rpc.bytes.sent")),
        both,
      );
    } finally {
      await client.close();
      await server.close();
    }
  });
}

Deno.test("bytes of connections with different codecs are counted apart", async () => {
  await using recorder = new Recorder();
  const pairs = [JsonCodec, MsgPackCodec].map((Codec) => {
    const [a, b] = createMemoryPair();
    const server = new RpcClient(new Channel(b, { codec: new Codec() }), {
      service: calculator,
      telemetry: recorder.options,
    });
    const client = new RpcClient(new Channel(a, { codec: new Codec() }), {
      telemetry: recorder.options,
    });
    return { client, server };
  });
  try {
    for (const { client } of pairs) await client.call("add", [3, 4]);
    await pairs[1].client.call("add", [3, 4]);
    const expected = (codec: string) =>
      pairs.filter(({ client }) => client.channel.codec.name === codec)
        .map(({ client, server }) =>
          client.channel.stats.bytesSent + server.channel.stats.bytesSent
        ).reduce((x, y) => x + y);
    const sent = await recorder.points("aiomas.rpc.bytes.sent");
    assert.equal(sent.length, 2);
    for (const codec of ["json", "msgpack"]) {
      assert.equal(
        valueOf(sent, { "aiomas.codec": codec }),
        expected(codec),
      );
    }
    // MsgPack made two calls, JSON one: more bytes, though smaller frames.
    assert.ok(expected("msgpack") > expected("json"));
  } finally {
    for (const { client, server } of pairs) {
      await client.close();
      await server.close();
    }
  }
});

Deno.test("a request whose handler is pending is unanswered until it is answered", async () => {
  await using recorder = new Recorder();
  const { promise: gate, resolve: open } = Promise.withResolvers<void>();
  const { promise: entered, resolve: enter } = Promise.withResolvers<void>();
  const [a, b] = createMemoryPair();
  const server = new RpcClient(new Channel(b), {
    service: new ServiceDict({
      wait: async () => {
        enter();
        await gate;
        return 1;
      },
    }),
    telemetry: recorder.options,
  });
  const client = new RpcClient(new Channel(a), {
    telemetry: recorder.options,
  });
  try {
    const reply = client.call("wait");
    await entered;
    // The RPC layer takes every request at once: none stays queued.
    assert.equal(
      valueOf(await recorder.points("aiomas.rpc.requests.unanswered")),
      1,
    );
    assert.equal(
      valueOf(await recorder.points("aiomas.rpc.requests.queued")),
      0,
    );
    open();
    assert.equal(await reply, 1);
    assert.equal(
      valueOf(await recorder.points("aiomas.rpc.requests.unanswered")),
      0,
    );
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("requests not yet taken are queued, and unanswered until answered", async () => {
  await using recorder = new Recorder();
  const found = instruments(recorder.meterProvider)!;
  const [a, b] = createMemoryPair();
  const client = new Channel(a);
  const server = new Channel(b);
  found.connectionOpened(server, "json");
  const queued = async () =>
    valueOf(await recorder.points("aiomas.rpc.requests.queued"));
  const unanswered = async () =>
    valueOf(await recorder.points("aiomas.rpc.requests.unanswered"));
  try {
    const replies = [client.send("one"), client.send("two")];
    // The reply to the server's ping comes after both requests: once it
    // is read, they have been received.
    const pong = (async () => {
      const ping = await client.recv();
      await ping.reply("pong");
    })();
    assert.equal(await server.send("ping"), "pong");
    await pong;
    assert.equal(await queued(), 2);
    assert.equal(await unanswered(), 2);
    const first = await server.recv();
    assert.equal(await queued(), 1);
    assert.equal(await unanswered(), 2);
    await first.reply(1);
    assert.equal(await unanswered(), 1);
    const second = await server.recv();
    await second.reply(2);
    assert.deepEqual(await Promise.all(replies), [1, 2]);
    assert.equal(await queued(), 0);
    assert.equal(await unanswered(), 0);
  } finally {
    await client.close();
    await server.close();
  }
  assert.equal(found.counted.size, 0);
});

Deno.test("the budgets' usage and limits are read when the provider collects", async () => {
  await using recorder = new Recorder();
  // Instruments are made with a provider's first connection.
  instruments(recorder.meterProvider);
  const previousFrames = setPartialFrameBudget(3 * MiB);
  const previousUnanswered = setUnansweredBudget(5 * MiB);
  const parser = new FrameParser(64 * MiB);
  try {
    const before = partialFrameBudget().held;
    // A frame that has started to arrive: its buffer holds 4 KiB.
    parser.push(header(MiB), []);
    parser.push(new Uint8Array(10), []);
    assert.equal(partialFrameBudget().held, before + 4 * KiB);
    const value = async (name: string) => valueOf(await recorder.points(name));
    assert.equal(
      await value("aiomas.channel.partial_frames.usage"),
      before + 4 * KiB,
    );
    assert.equal(await value("aiomas.channel.partial_frames.limit"), 3 * MiB);
    assert.equal(
      await value("aiomas.channel.unanswered.usage"),
      unansweredBudget().held,
    );
    assert.equal(await value("aiomas.channel.unanswered.limit"), 5 * MiB);
    parser.release();
    assert.equal(await value("aiomas.channel.partial_frames.usage"), before);
  } finally {
    parser.release();
    setPartialFrameBudget(previousFrames);
    setUnansweredBudget(previousUnanswered);
  }
});

Deno.test("a partial frame cut at the budget is counted, and closes its connection with a ProtocolError", async () => {
  await using recorder = new Recorder();
  const raw = rawServer(recorder);
  const cuts = async () =>
    valueOf(await recorder.points("aiomas.channel.partial_frames.cuts"));
  const before = partialFrameBudget().cuts;
  assert.equal(await cuts(), before);
  const previous = setPartialFrameBudget(partialFrameBudget().held + 64 * KiB);
  try {
    // 70 KiB of a frame claiming 1 MiB: the connection holds the most.
    await raw.write(header(MiB));
    await raw.write(new Uint8Array(70 * KiB));
    await assert.rejects(raw.channel.closed, ProtocolError);
    assert.equal(partialFrameBudget().cuts, before + 1);
    assert.equal(await cuts(), before + 1);
    const closed = await recorder.points("aiomas.rpc.connections.closed");
    assert.equal(
      valueOf(closed, { "aiomas.close_reason": "ProtocolError" }),
      1,
    );
  } finally {
    setPartialFrameBudget(previous);
    await raw.close();
  }
});

Deno.test("a ProtocolError is counted as a connection closed with that reason, without a cut", async () => {
  await using recorder = new Recorder();
  const raw = rawServer(recorder, 1000);
  const before = partialFrameBudget().cuts;
  try {
    await raw.write(header(1001));
    await assert.rejects(raw.channel.closed, ProtocolError);
    const closed = await recorder.points("aiomas.rpc.connections.closed");
    assert.deepEqual(
      closed.map((p) => [p.attributes["aiomas.close_reason"], p.value]),
      [["ProtocolError", 1]],
    );
    assert.equal(
      valueOf(await recorder.points("aiomas.channel.partial_frames.cuts")),
      before,
    );
  } finally {
    await raw.close();
  }
});

Deno.test("a channel that stops reading at the unanswered budget is counted as a pause", async () => {
  await using recorder = new Recorder();
  instruments(recorder.meterProvider);
  const pauses = async () =>
    valueOf(await recorder.points("aiomas.channel.unanswered.pauses"));
  const before = unansweredBudget().pauses;
  assert.equal(await pauses(), before);
  // Any request received reaches it.
  const previous = setUnansweredBudget(unansweredBudget().held + 1);
  const [a, b] = createMemoryPair();
  const client = new Channel(a);
  const server = new Channel(b);
  try {
    const reply = client.send("one");
    const request = await server.recv();
    await turns();
    assert.equal(await pauses(), before + 1);
    await request.reply(1);
    assert.equal(await reply, 1);
    assert.equal(unansweredBudget().pauses, before + 1);
  } finally {
    setUnansweredBudget(previous);
    await client.close();
    await server.close();
  }
});

Deno.test("with no provider registered no metric is recorded", async () => {
  await using recorder = new Recorder();
  assert.equal(instruments({ getMeter: () => createNoopMeter() }), undefined);
  const [a, b] = createMemoryPair();
  const server = new RpcClient(new Channel(b), { service: calculator });
  const client = new RpcClient(new Channel(a));
  try {
    assert.equal(await client.call("add", [3, 4]), 7);
  } finally {
    await client.close();
    await server.close();
  }
  // Registered later: the connections made before record nothing.
  using _global = recorder.registerGlobally();
  const { resourceMetrics } = await recorder.reader.collect();
  assert.deepEqual(resourceMetrics.scopeMetrics, []);
});
