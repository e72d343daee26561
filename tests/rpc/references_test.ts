// Service references received from a peer: each becomes a proxy, which
// costs far more than the reference's bytes, so how many a peer can make
// is bounded.
import assert from "node:assert/strict";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import { ProtocolError } from "../../errors.ts";
import { type DynamicRemote, expose, RpcClient } from "../../rpc/mod.ts";
import { textFrame } from "../_frames.ts";
import { connectPair } from "./_helpers.ts";

class Keeper {
  kept: unknown[] = [];

  @expose
  keep(values: unknown[]): number {
    this.kept = values;
    return values.length;
  }
}

class Pinger {
  @expose
  ping(): string {
    return "pong";
  }
}

Deno.test("references to one path in a message arrive as one proxy, which works", async () => {
  const keeper = new Keeper();
  await using pair = await connectPair<Keeper>("memory", keeper, {
    clientService: new Pinger(),
  });
  const pinger = pair.client.service.target as Pinger;
  assert.equal(await pair.client.remote.keep([pinger, pinger, pinger]), 3);
  const [a, b, c] = keeper.kept as DynamicRemote[];
  assert.equal(a, b);
  assert.equal(b, c);
  assert.equal(await a.ping(), "pong");
  assert.equal(String(a), "RpcProxy('')");
  // Its method proxies are made once, and on first use.
  assert.equal(a.ping, a.ping);
});

/** A raw request `keep([refs])` with `count` references to distinct paths. */
function manyReferences(id: number, count: number): Uint8Array {
  const refs = Array.from(
    { length: count },
    (_, i) => `{"__type__": [0, "p${i}"]}`,
  );
  return textFrame(`[0, ${id}, ["keep", [[${refs.join(",")}]], {}]]`);
}

Deno.test("a message of 10 000 references is served; one of more closes the connection, naming why", async () => {
  const [a, b] = createMemoryPair();
  const keeper = new Keeper();
  const server = new RpcClient(new Channel(b, { peer: "the peer" }), {
    service: keeper,
  });
  const writer = a.writable.getWriter();
  const reader = a.readable.getReader();
  await writer.write(manyReferences(0, 10_000));
  // The reply, [1, 0, 10000]: read until it is complete.
  let text = "";
  const decoder = new TextDecoder();
  while (!text.endsWith("10000]")) {
    const { value } = await reader.read();
    assert.ok(value !== undefined);
    text += decoder.decode(value);
  }
  assert.equal(keeper.kept.length, 10_000);
  keeper.kept = [];
  await writer.write(manyReferences(1, 10_001));
  await assert.rejects(server.closed, (error: unknown) => {
    assert.ok(error instanceof ProtocolError, String(error));
    assert.match(
      error.message,
      /more than 10000 service references at once from the peer/,
    );
    return true;
  });
  assert.deepEqual(keeper.kept, []);
  reader.releaseLock();
  await writer.close().catch(() => {}); // reset by the channel
});
