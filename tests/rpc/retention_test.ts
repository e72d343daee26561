// What an RPC connection keeps of a call once it is answered: nothing, on
// either side. The arguments a handler got, what the caller sent and the
// result it received must not stay reachable from the connection while it
// is quiet (the read loops wait for the next bytes meanwhile), whether the
// handler answered at once or after an await, over every transport and
// with all three codecs. tests/channel/retention_test.ts checks the same
// one layer down.
import assert from "node:assert/strict";
import {
  assertCollected,
  collectGarbage,
  sentThenResult,
} from "../_collect.ts";
import { connectPair, KINDS } from "./_helpers.ts";
import {
  type CodecClass,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";
import { expose } from "../../rpc/mod.ts";

const MiB = 1024 * 1024;

/** Keeps only weak references to the arguments it gets. */
class Store {
  got: WeakRef<object>[] = [];

  @expose
  now(value: object): object {
    this.got.push(new WeakRef(value));
    return value;
  }

  @expose
  async later(value: object): Promise<object> {
    this.got.push(new WeakRef(value));
    await Promise.resolve();
    return value;
  }
}

interface Remote {
  now(value: object): Promise<object>;
  later(value: object): Promise<object>;
}

/** A 1 MiB argument that decodes to an object (JSON has no byte strings). */
function argument(codec: CodecClass): object {
  return codec === JsonCodec
    ? { text: "x".repeat(MiB) }
    : new Uint8Array(MiB).fill(7);
}

/**
 * Makes one call in a function of its own (the test's own frame must not
 * keep anything); returns weak references to what was sent and received.
 */
async function call(
  remote: Remote,
  method: keyof Remote,
  codec: CodecClass,
): Promise<WeakRef<object>[]> {
  const sent = argument(codec);
  const result = await remote[method](sent);
  assert.equal(typeof result, "object");
  return [new WeakRef(sent), new WeakRef(result)];
}

for (const kind of KINDS) {
  for (const codec of [JsonCodec, MsgPackCodec, MsgPackBloscCodec]) {
    Deno.test(`${kind}, ${codec.name}: neither side keeps an answered call's arguments or result`, async () => {
      const store = new Store();
      await using pair = await connectPair<Remote>(kind, store, { codec });
      // What each call sent, then its result: `now`'s, then `later`'s.
      const refs = [
        ...await call(pair.client.remote, "now", codec),
        ...await call(pair.client.remote, "later", codec),
      ];
      await collectGarbage();
      assertCollected(store.got, (i) => `the server keeps argument ${i}`);
      assertCollected(refs, sentThenResult("the client"));
      // The connection still works: the read loops waited, not ended.
      assert.deepEqual(await pair.client.remote.now([1]), [1]);
    });
  }
}
