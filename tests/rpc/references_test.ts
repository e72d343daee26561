// Service references received from a peer: each becomes a proxy, kept
// small, and the references to one path in a read share one.
import assert from "node:assert/strict";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import {
  type DynamicRemote,
  expose,
  RpcClient,
  ServiceDict,
} from "../../rpc/mod.ts";
import { MsgPackCodec } from "../../codecs/mod.ts";
import { createRemote, rpcLabel } from "../../rpc/_proxy.ts";
import { addReferences } from "../../rpc/_references.ts";
import { collectGarbage } from "../_collect.ts";
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

Deno.test("many references in the messages of one read are all served", async () => {
  const [a, b] = createMemoryPair();
  const keeper = new Keeper();
  const server = new RpcClient(new Channel(b), { service: keeper });
  const writer = a.writable.getWriter();
  const reader = a.readable.getReader();
  // Six messages of 3 000 references each, in one chunk: one read.
  const frames = Array.from({ length: 6 }, (_, id) => manyReferences(id, 3000));
  const chunk = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  frames.reduce((at, f) => (chunk.set(f, at), at + f.length), 0);
  await writer.write(chunk);
  let text = "";
  const decoder = new TextDecoder();
  while ((text.match(/3000\]/g) ?? []).length < 6) {
    const { value } = await reader.read();
    assert.ok(value !== undefined, `the connection ended: ${text}`);
    text += decoder.decode(value);
  }
  assert.equal(server.channel.isClosed, false);
  reader.releaseLock();
  await writer.close();
  await server.closed;
});

Deno.test("a reply holding many references walks the service tree once, not once per reference", async () => {
  let walks = 0;
  /** A ServiceDict that counts how often its entries are listed. */
  class Counted extends ServiceDict {
    protected override memberNames(): Iterable<string> {
      walks++;
      return super.memberNames();
    }
  }
  const items = Array.from({ length: 200 }, () => new Pinger());
  const service = new Counted({
    items: new ServiceDict(
      Object.fromEntries(items.map((item, i) => [String(i), item])),
    ),
    all: () => items,
  });
  await using pair = await connectPair("memory", service);
  const all = await pair.client.call("all") as DynamicRemote[];
  assert.equal(all.length, 200);
  assert.equal(await all[199].ping(), "pong");
  assert.equal(walks, 1);
});

Deno.test("a service put in a field, or moved to another, in the same turn as an earlier reference travels as its path now", async () => {
  class Sub {
    constructor(readonly n: number) {}
    @expose
    value(): number {
      return this.n;
    }
  }
  class Root {
    @expose
    a = new Sub(1);
    @expose
    b: Sub | null = null;
    @expose
    c: Sub | null = new Sub(3);
    @expose
    d: Sub | null = null;
  }
  class Taker {
    @expose
    async take(sub: Sub | DynamicRemote): Promise<unknown> {
      return await (sub as DynamicRemote).value();
    }
  }
  const root = new Root();
  await using pair = await connectPair<Taker>("memory", new Taker(), {
    clientService: root,
  });
  // The first reference indexes the tree for this turn.
  const first = pair.client.remote.take(root.a);
  // Then, in the same turn: a new service in b, and c's moved to d.
  const added = new Sub(2);
  root.b = added;
  const second = pair.client.remote.take(added);
  const moved = root.c!;
  root.c = null;
  root.d = moved;
  const third = pair.client.remote.take(moved);
  assert.deepEqual(await Promise.all([first, second, third]), [1, 2, 3]);
});

Deno.test("references: a proxy holds about what maxDecodedSize charged its reference's values", async () => {
  const codec = new MsgPackCodec();
  addReferences(
    codec,
    () => "",
    (path) => createRemote(() => Promise.resolve(), path, rpcLabel),
  );
  // 20 000 references to distinct paths, as aiomas tags them (the
  // fallback serializer's typeid is 0).
  const count = 20_000;
  const frame = new MsgPackCodec().encode(
    Array.from({ length: count }, (_, i) => ({ __type__: [0, `p${i}`] })),
  );
  await collectGarbage();
  const before = Deno.memoryUsage().heapUsed;
  const proxies = codec.decode(frame) as unknown[];
  const charged = codec.lastDecodedCost;
  await collectGarbage();
  const held = Deno.memoryUsage().heapUsed - before;
  assert.equal(proxies.length, count);
  assert.equal(String(proxies[7]), "RpcProxy('p7')");
  // A console hook per proxy made it 2.0 × (380 bytes held per
  // reference against 189 units charged); without it, 1.3 ×.
  assert.ok(
    held < 1.5 * charged,
    `${(held / count).toFixed(0)} bytes held per reference, ${
      (charged / count).toFixed(0)
    } units charged`,
  );
});
