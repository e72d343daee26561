// What a handler throws or returns may be malformed: an Error whose name is
// a Symbol, whose getters throw, a Proxy whose traps throw, a result whose
// serializer throws. The caller still gets an error reply, and the
// connection, its other calls and its request slots go on.
import assert from "node:assert/strict";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import {
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";
import type { Codec } from "../../codecs/mod.ts";
import { RemoteError, SerializationError } from "../../errors.ts";
import { RpcClient, ServiceDict } from "../../rpc/mod.ts";

function withName(name: unknown): Error {
  const error = new Error("m");
  Object.defineProperty(error, "name", { value: name });
  return error;
}

function throwingGetter(key: "name" | "message" | "stack"): Error {
  const error = new Error("m");
  Object.defineProperty(error, key, {
    get() {
      throw new Error(`${key} getter`);
    },
  });
  return error;
}

const TRAPS = new Proxy({}, {
  get() {
    throw new Error("get trap");
  },
  getPrototypeOf() {
    throw new Error("getPrototypeOf trap");
  },
});

/** What each handler throws, and the remote name and message expected. */
const MALFORMED: [string, () => unknown, string, string][] = [
  ["a Symbol name", () => withName(Symbol("n")), "Error", "m"],
  [
    "a name whose toString throws",
    () =>
      withName({
        toString() {
          throw new Error("boom");
        },
      }),
    "Error",
    "m",
  ],
  ["a number name", () => withName(123), "Error", "m"],
  ["a throwing name getter", () => throwingGetter("name"), "Error", "m"],
  ["a throwing message getter", () => throwingGetter("message"), "Error", ""],
  ["a throwing stack getter", () => throwingGetter("stack"), "Error", "m"],
  ["a Proxy whose traps throw", () => TRAPS, "Error", "[object Object]"],
];

function pair(service: object, maxConcurrentRequests = 1024) {
  const [a, b] = createMemoryPair();
  const server = new RpcClient(new Channel(b, { maxConcurrentRequests }), {
    service,
  });
  const client = new RpcClient(new Channel(a));
  return {
    client,
    server,
    async [Symbol.asyncDispose]() {
      await client.close();
      await server.close();
    },
  };
}

function remote(name: string, message: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof RemoteError, `not a RemoteError: ${error}`);
    assert.equal(error.remoteName, name);
    assert.equal(error.remoteMessage, message);
    return true;
  };
}

Deno.test("a malformed Error thrown by a handler, at once or later, is answered as an error reply", async () => {
  for (const [what, make, name, message] of MALFORMED) {
    await using p = pair(
      new ServiceDict({
        now: () => {
          throw make();
        },
        later: async () => {
          await Promise.resolve();
          throw make();
        },
        ok: () => "ok",
      }),
    );
    await assert.rejects(p.client.call("now"), remote(name, message), what);
    await assert.rejects(p.client.call("later"), remote(name, message), what);
    assert.equal(await p.client.call("ok"), "ok", what);
  }
});

Deno.test("malformed Errors thrown by handlers do not keep request slots", async () => {
  // As many such calls as the server takes at once, twice over: had one
  // gone unanswered, its slot would be held and the last call would wait.
  await using p = pair(
    new ServiceDict({
      bad: async () => {
        await Promise.resolve();
        throw withName(Symbol("n"));
      },
      ok: () => "ok",
    }),
    8,
  );
  const calls = Array.from({ length: 16 }, () => p.client.call("bad"));
  for (const call of calls) await assert.rejects(call, RemoteError);
  assert.equal(await p.client.call("ok"), "ok");
  assert.equal(p.server.channel.stats.requestsUnanswered, 0);
});

class Money {
  constructor(readonly cents: number) {}
}

function moneyCodec(make: () => Codec): Codec {
  const codec = make();
  codec.addSerializer(Money, (money: Money) => {
    if (money.cents < 0) throw new RangeError("negative money");
    return money.cents;
  }, (cents) => new Money(cents as number));
  return codec;
}

const CODECS: [string, () => Codec][] = [
  ["JSON", () => new JsonCodec()],
  ["MsgPack", () => new MsgPackCodec()],
  ["MsgPack+Blosc", () => new MsgPackBloscCodec()],
];

Deno.test("a result whose serializer or getter throws becomes an error reply; other calls go on", async () => {
  for (const [name, make] of CODECS) {
    const [a, b] = createMemoryPair();
    const { promise: release, resolve } = Promise.withResolvers<void>();
    const server = new RpcClient(new Channel(b, { codec: moneyCodec(make) }), {
      service: new ServiceDict({
        debt: () => new Money(-1),
        getter: () => ({
          get value(): never {
            throw new TypeError("no value");
          },
        }),
        slow: async () => {
          await release;
          return new Money(5);
        },
      }),
    });
    const client = new RpcClient(new Channel(a, { codec: moneyCodec(make) }));
    const slow = client.call("slow");
    await assert.rejects(
      client.call("debt"),
      remote(
        "SerializationError",
        `Cannot encode value as ${
          name === "JSON" ? "JSON" : "MsgPack"
        }: encoding it threw RangeError: negative money`,
      ),
      name,
    );
    await assert.rejects(
      client.call("getter"),
      remote(
        "SerializationError",
        `Cannot encode value as ${
          name === "JSON" ? "JSON" : "MsgPack"
        }: encoding it threw TypeError: no value`,
      ),
      name,
    );
    resolve();
    assert.deepEqual(await slow, new Money(5), name);
    await client.close();
    await server.close();
  }
});

Deno.test("a request whose serializer throws is refused with a SerializationError that carries the error; nothing is sent", async () => {
  for (const [name, make] of CODECS) {
    const [a, b] = createMemoryPair();
    const client = new Channel(a, { codec: moneyCodec(make) });
    const server = new Channel(b, { codec: moneyCodec(make) });
    await assert.rejects(client.send(new Money(-1)), (error: unknown) => {
      assert.ok(error instanceof SerializationError, `${name}: ${error}`);
      assert.ok(error.cause instanceof RangeError, name);
      return true;
    });
    const next = client.send(new Money(1));
    const request = await server.recv();
    assert.deepEqual(request.content, new Money(1), name);
    await request.reply("ok");
    assert.equal(await next, "ok", name);
    await client.close();
    await server.close();
  }
});
