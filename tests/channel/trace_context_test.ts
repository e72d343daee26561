import assert from "node:assert/strict";
import {
  Channel,
  createMemoryPair,
  type TraceContextCarrier,
  type Transport,
} from "../../channel/mod.ts";

/** Both directions of a carrier pair: what one side sends the other takes. */
function carriers(): [
  TraceContextCarrier & { sent: number[] },
  TraceContextCarrier,
] {
  const wire = new Map<number, Readonly<Record<string, string>>>();
  const sent: number[] = [];
  return [
    {
      sent,
      outgoing(id, context) {
        sent.push(id);
        wire.set(id, context);
      },
      incoming: () => undefined,
    },
    {
      outgoing() {},
      incoming(id) {
        const context = wire.get(id);
        wire.delete(id);
        return context;
      },
    },
  ];
}

function withCarrier(t: Transport, carrier: TraceContextCarrier): Transport {
  return {
    readable: t.readable,
    writable: t.writable,
    close: t.close === undefined ? undefined : () => t.close!(),
    traceContext: carrier,
  };
}

Deno.test("a trace context travels beside a request where the transport carries it", async () => {
  const [a, b] = createMemoryPair();
  const [out, into] = carriers();
  await using client = new Channel(withCarrier(a, out));
  await using server = new Channel(withCarrier(b, into));
  const context = {
    traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  };
  const reply = client.send("traced", { traceContext: context });
  const untraced = client.send("plain");
  const first = await server.recv();
  assert.equal(first.content, "traced");
  assert.deepEqual(first.traceContext, context);
  const second = await server.recv();
  assert.equal(second.traceContext, undefined);
  await first.reply(1);
  await second.reply(2);
  assert.equal(await reply, 1);
  assert.equal(await untraced, 2);
  assert.deepEqual(out.sent, [0]);
});

Deno.test("a trace context is dropped where the transport has no room for it", async () => {
  const [a, b] = createMemoryPair();
  await using client = new Channel(a);
  await using server = new Channel(b);
  const reply = client.send("x", {
    traceContext: { traceparent: "00-1-2-01" },
  });
  const request = await server.recv();
  assert.equal(request.traceContext, undefined);
  assert.equal(request.content, "x");
  await request.reply("y");
  assert.equal(await reply, "y");
});

Deno.test("stats count bytes both ways and the requests held", async () => {
  const [a, b] = createMemoryPair();
  await using client = new Channel(a);
  await using server = new Channel(b);
  assert.deepEqual(client.stats, {
    bytesReceived: 0,
    bytesSent: 0,
    requestsQueued: 0,
    requestsUnanswered: 0,
  });
  const replies = [client.send("one"), client.send("two")];
  const first = await server.recv();
  // Both requests went in one write: the second was read with the first
  // and waits in the queue.
  assert.equal(server.stats.requestsQueued, 1);
  assert.equal(server.stats.requestsUnanswered, 2);
  await first.reply(1);
  const second = await server.recv();
  assert.equal(server.stats.requestsQueued, 0);
  assert.equal(server.stats.requestsUnanswered, 1);
  await second.reply(2);
  assert.deepEqual(await Promise.all(replies), [1, 2]);
  assert.equal(server.stats.requestsUnanswered, 0);
  // JSON: [0,0,"one"] is 9 bytes + a 4-byte header; two requests each way.
  const requests = 2 * 4 + '[0,0,"one"]'.length + '[0,1,"two"]'.length;
  const answers = 2 * 4 + "[1,0,1]".length + "[1,1,2]".length;
  assert.equal(client.stats.bytesSent, requests);
  assert.equal(server.stats.bytesReceived, requests);
  assert.equal(server.stats.bytesSent, answers);
  assert.equal(client.stats.bytesReceived, answers);
});
