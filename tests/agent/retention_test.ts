// What containers keep of an agent call once it is answered: nothing, on
// either side, while the link is quiet: between containers over TCP and
// in one process (local://), and on the parent's side of a Worker
// container's link. tests/rpc/retention_test.ts checks the same for plain
// RPC connections.
import assert from "node:assert/strict";
import {
  assertCollected,
  collectGarbage,
  sentThenResult,
} from "../_collect.ts";
import {
  Agent,
  type AgentProxy,
  Container,
  type DynamicRemote,
  startContainerWorker,
} from "../../agent/mod.ts";
import { type CodecClass, JsonCodec, MsgPackCodec } from "../../codecs/mod.ts";
import { expose } from "../../rpc/mod.ts";

const MiB = 1024 * 1024;
const LOCAL = { hostname: "127.0.0.1", port: 0 };
const AGENTS_URL = new URL("../fixtures/agents/agents.ts", import.meta.url);

/** Keeps only weak references to the arguments it gets. */
class Store extends Agent {
  got: WeakRef<object>[] = [];

  @expose
  keep(value: object): object {
    this.got.push(new WeakRef(value));
    return value;
  }
}

/** A 1 MiB argument that decodes to an object (JSON has no byte strings). */
function argument(codec: CodecClass): object {
  return codec === JsonCodec
    ? { text: "x".repeat(MiB) }
    : new Uint8Array(MiB).fill(7);
}

/**
 * Calls `keep` twice, in a function of its own (the test's own frame must
 * not keep anything); returns weak references to what was sent and received.
 */
async function callTwice(
  proxy: AgentProxy<Store>,
  codec: CodecClass,
): Promise<WeakRef<object>[]> {
  const refs: WeakRef<object>[] = [];
  for (let i = 0; i < 2; i++) {
    const sent = argument(codec);
    const result = await proxy.keep(sent);
    refs.push(new WeakRef(sent), new WeakRef(result));
  }
  return refs;
}

for (
  const [name, codec, addr] of [
    ["tcp", JsonCodec, LOCAL],
    ["tcp", MsgPackCodec, LOCAL],
    ["local://", MsgPackCodec, "local://retention"],
  ] as const
) {
  Deno.test(`${name}, ${codec.name}: neither container keeps an answered call's arguments or result`, async () => {
    await using caller = await Container.create(
      typeof addr === "string" ? `${addr}-caller` : addr,
      { codec },
    );
    await using callee = await Container.create(addr, { codec });
    const store = new Store(callee);
    const proxy = await caller.connect<Store>(store.addr);
    const refs = await callTwice(proxy, codec);
    await collectGarbage();
    assertCollected(store.got, (i) => `the callee keeps argument ${i}`);
    assertCollected(refs, sentThenResult("the caller"));
    assert.deepEqual(await proxy.keep([1]), [1]);
  });
}

Deno.test("Worker container, MsgPackCodec: the parent keeps nothing of an answered call", async () => {
  await using parent = await Container.create(LOCAL, { codec: MsgPackCodec });
  await using worker = await startContainerWorker({ container: parent });
  const [echo] = await worker.manager.spawn(
    `${AGENTS_URL.href}#Echo`,
  ) as unknown as [DynamicRemote, string];
  const refs = await (async () => {
    const refs: WeakRef<object>[] = [];
    for (let i = 0; i < 2; i++) {
      const sent = new Uint8Array(MiB);
      assert.equal(await echo.echo(sent), String(sent));
      const got = await echo.bytes(MiB) as Uint8Array;
      refs.push(new WeakRef(sent), new WeakRef(got));
    }
    return refs;
  })();
  await collectGarbage();
  assertCollected(refs, sentThenResult("the parent"));
});
