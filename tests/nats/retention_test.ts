// What a NATS session keeps of a call once it is answered: nothing, on
// either side, also for a message split at the server's max_payload and
// put together again. tests/rpc/retention_test.ts checks the same for
// socket connections.
import assert from "node:assert/strict";
import {
  assertCollected,
  collectGarbage,
  sentThenResult,
} from "../_collect.ts";
import { NatsServer } from "./_server.ts";
import { type CodecClass, JsonCodec, MsgPackCodec } from "../../codecs/mod.ts";
import { connectNats, serveNats } from "../../nats/mod.ts";
import { expose } from "../../rpc/mod.ts";

const MiB = 1024 * 1024;

/** Keeps only weak references to the arguments it gets. */
class Store {
  got: WeakRef<object>[] = [];

  @expose
  keep(value: object): object {
    this.got.push(new WeakRef(value));
    return value;
  }
}

/** An argument of `size` bytes that decodes to an object. */
function argument(codec: CodecClass, size: number): object {
  return codec === JsonCodec
    ? { text: "x".repeat(size) }
    : new Uint8Array(size).fill(7);
}

/**
 * Calls `keep` twice, in a function of its own (the test's own frame must
 * not keep anything); returns weak references to what was sent and received.
 */
async function callTwice(
  remote: Store,
  codec: CodecClass,
  size: number,
): Promise<WeakRef<object>[]> {
  const refs: WeakRef<object>[] = [];
  for (let i = 0; i < 2; i++) {
    const sent = argument(codec, size);
    const result = await remote.keep(sent);
    refs.push(new WeakRef(sent), new WeakRef(result));
  }
  return refs;
}

for (
  const [codec, size] of [
    [JsonCodec, MiB],
    // Above the server's 1 MiB max_payload: split and put together again.
    [MsgPackCodec, 3 * MiB + 7],
  ] as const
) {
  Deno.test(`serveNats/connectNats, ${codec.name}, ${size} bytes: neither side keeps an answered call's arguments or result`, async () => {
    await using server = await NatsServer.start();
    const nats = { servers: server.url };
    const store = new Store();
    await using _service = await serveNats(store, {
      nats,
      subject: "store",
      codec,
    });
    await using client = await connectNats<Store>("store", { nats, codec });
    const refs = await callTwice(
      client.remote as unknown as Store,
      codec,
      size,
    );
    await collectGarbage();
    assertCollected(store.got, (i) => `the server keeps argument ${i}`);
    assertCollected(refs, sentThenResult("the client"));
    assert.deepEqual(await client.remote.keep([1]), [1]);
  });
}
