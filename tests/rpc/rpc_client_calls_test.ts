// RpcClient calls over a memory pair, TCP and a Unix socket: typed proxies
// and client.call, error replies, concurrency, timeouts and cancellation.
import assert from "node:assert/strict";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import { RemoteError } from "../../errors.ts";
import { MsgPackCodec } from "../../codecs/mod.ts";
import { RpcClient, ServiceDict } from "../../rpc/mod.ts";
import { Recorder } from "../_telemetry.ts";
import { connectPair, KINDS } from "./_helpers.ts";
import {
  CALL_SHAPE,
  MathServer,
  POINT,
  Point,
  remoteError,
} from "./_rpc_client_services.ts";

for (const kind of KINDS) {
  Deno.test(`rpc ${kind}: typed proxies and client.call`, async () => {
    const service = new MathServer();
    await using pair = await connectPair<MathServer>(kind, service);
    const { client } = pair;
    const seven: number = await client.remote.add(3, 4);
    assert.equal(seven, 7);
    assert.equal(await client.remote.sub.mul(6, 7), 42);
    assert.equal(await client.remote.sub.mul(6), 6);
    assert.equal(String(client.remote.sub), "RpcProxy('sub')");
    assert.equal(String(client.remote.sub.mul), "RpcProxy('sub/mul')");
    assert.equal(await client.call("sub/mul", [6], { b: 7 }), 42);
    assert.equal(
      await client.call("sub/mul", [6], { b: 7 }, {
        timeout: 10_000,
        signal: new AbortController().signal,
      }),
      42,
    );
    assert.equal(await client.call("add", [1, 2]), 3);
    assert.deepEqual(await client.remote.echo({ a: [1, "x", null] }), {
      a: [1, "x", null],
    });
  });

  Deno.test(`rpc ${kind}: a handler's error arrives as a RemoteError`, async () => {
    await using pair = await connectPair<MathServer>(kind, new MathServer());
    const { client } = pair;
    await assert.rejects(
      client.remote.fail("ValueError", "bad value"),
      remoteError("ValueError", "bad value"),
    );
    await assert.rejects(
      client.remote.failAsync(),
      remoteError("RangeError", "out of range"),
    );
    await assert.rejects(
      client.remote.throwString(),
      remoteError("Error", "just a string"),
    );
    await assert.rejects(client.remote.fail("ValueError", "x"), (error) => {
      assert.ok(error instanceof RemoteError);
      assert.equal(error.origin, client.channel.peer);
      assert.equal(error.message, `ValueError: x (raised by ${error.origin})`);
      return true;
    });
    assert.equal(await client.remote.add(1, 1), 2);
  });

  Deno.test(`rpc ${kind}: a reply that cannot be encoded becomes an error reply`, async () => {
    await using pair = await connectPair<MathServer>(kind, new MathServer());
    const { client } = pair;
    await assert.rejects(
      client.remote.bytes(),
      remoteError(
        "SerializationError",
        "Cannot encode bytes as JSON (use MsgPackCodec, or add a serializer for Uint8Array)",
      ),
    );
    await assert.rejects(
      client.remote.unregistered(),
      remoteError(
        "SerializationError",
        "Cannot encode an Unregistered: no serializer is registered for it and it is not a service of this connection",
      ),
    );
    await assert.rejects(
      client.remote.aFunction(),
      remoteError("SerializationError", /^Cannot encode a/),
    );
    assert.equal(await client.remote.add(1, 2), 3);
  });

  Deno.test(`rpc ${kind}: malformed call content gets an error reply`, async () => {
    await using pair = await connectPair<MathServer>(kind, new MathServer());
    const { client } = pair;
    const malformed: unknown[] = [
      ["add", [1, 2]],
      [1, [], {}],
      ["add", {}, {}],
      ["add", [], []],
      ["add", [], null],
      ["add", null, {}],
      ["add", [1, 2], {}, 4],
      "add",
      null,
      42,
      {},
    ];
    for (const content of malformed) {
      await assert.rejects(
        client.channel.send(content),
        remoteError("TypeError", CALL_SHAPE),
        JSON.stringify(content),
      );
    }
    assert.equal(await client.remote.add(1, 2), 3);
  });

  Deno.test(`rpc ${kind}: keyword arguments must be a map of names: bytes, a Map or a serializer's object are refused`, async () => {
    await using pair = await connectPair<MathServer>(kind, new MathServer(), {
      codec: MsgPackCodec,
      serializers: [POINT],
    });
    const { client } = pair;
    // Bytes would make a keyword of every index (15 MB: 759 MiB of heap).
    for (
      const kwargs of [
        new Uint8Array(100_000),
        new Map([[1, 7]]),
        new Point(1, 2),
      ]
    ) {
      await assert.rejects(
        client.channel.send(["sub/mul", [6], kwargs]),
        remoteError("TypeError", CALL_SHAPE),
        String(kwargs.constructor.name),
      );
    }
    // A map whose prototype is null is a map of names too.
    const bare = Object.assign(Object.create(null), { b: 7 });
    assert.equal(await client.channel.send(["sub/mul", [6], bare]), 42);
  });

  Deno.test(`rpc ${kind}: requests run concurrently, replies go out as they finish`, async () => {
    const service = new MathServer();
    await using pair = await connectPair<MathServer>(kind, service);
    const { client } = pair;
    const order: string[] = [];
    const slow = client.remote.slow("slow").then((value) => order.push(value));
    await service.slowStarted.promise;
    order.push(await client.remote.fast("fast"));
    assert.equal(await client.remote.add(1, 2), 3);
    assert.deepEqual(order, ["fast"]);
    service.gate.resolve();
    await slow;
    assert.deepEqual(order, ["fast", "slow"]);
  });

  Deno.test(`rpc ${kind}: timeouts and cancellation`, async () => {
    const service = new MathServer();
    await using pair = await connectPair<MathServer>(kind, service);
    const { client } = pair;
    await assert.rejects(
      client.call("slow", ["late"], {}, { timeout: 1 }),
      (error: unknown) => {
        assert.ok(error instanceof DOMException);
        assert.equal(error.name, "TimeoutError");
        return true;
      },
    );
    const controller = new AbortController();
    const aborted = client.call("slow", ["aborted"], {}, {
      signal: controller.signal,
    });
    controller.abort();
    await assert.rejects(aborted, { name: "AbortError" });
    const reason = new Error("stop");
    const withReason = new AbortController();
    const stopped = client.call("slow", ["x"], {}, {
      signal: withReason.signal,
    });
    withReason.abort(reason);
    await assert.rejects(stopped, (error) => error === reason);
    await assert.rejects(
      client.call("add", [1, 2], {}, { signal: AbortSignal.abort() }),
      { name: "AbortError" },
    );
    // The late replies are dropped; the connection still works.
    service.gate.resolve();
    assert.equal(await client.remote.slow("now"), "now");
    assert.equal(await client.remote.add(1, 2), 3);
  });
}

Deno.test("rpc: a result that throws when looked at (a revoked proxy, a promise whose then throws) becomes an error reply, traced or not", async () => {
  const revoked = () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy;
  };
  const service = new ServiceDict({
    revoked,
    trap: () =>
      new Proxy({}, {
        getPrototypeOf() {
          throw new Error("trap");
        },
      }),
    // Promises whose `then` throws: a proxy of one, a getter.
    proxied: () => new Proxy(Promise.resolve(1), {}),
    badThen: () => {
      const promise = Promise.resolve(1);
      Object.defineProperty(promise, "then", {
        get() {
          throw new Error("no then");
        },
      });
      return promise;
    },
    add: (a: number, b: number) => a + b,
  });
  for (const traced of [false, true]) {
    await using recorder = new Recorder();
    const [a, b] = createMemoryPair();
    await using _server = new RpcClient(new Channel(b), {
      service,
      telemetry: traced ? recorder.options : false,
    });
    await using client = new RpcClient(new Channel(a), { callTimeout: 5000 });
    await assert.rejects(
      client.call("revoked"),
      remoteError("SerializationError", /revoked/),
    );
    await assert.rejects(
      client.call("trap"),
      remoteError("SerializationError", /trap/),
    );
    await assert.rejects(
      client.call("proxied"),
      remoteError("TypeError", /incompatible receiver/),
    );
    await assert.rejects(
      client.call("badThen"),
      remoteError("Error", "no then"),
    );
    assert.equal(await client.call("add", [1, 2]), 3);
  }
});

Deno.test("rpc: client.call refuses options it cannot use before it sends anything", async () => {
  let ran = 0;
  const [a, b] = createMemoryPair();
  await using _server = new RpcClient(new Channel(b), {
    service: new ServiceDict({ effect: () => ++ran }),
  });
  await using client = new RpcClient(new Channel(a));
  for (
    const [options, error] of [
      [null, TypeError],
      [{ signal: {} }, TypeError],
      [{ timeout: -1 }, RangeError],
    ] as const
  ) {
    await assert.rejects(
      client.call("effect", [], {}, options as never),
      error,
      JSON.stringify(options),
    );
  }
  // The one call that runs.
  assert.equal(await client.call("effect"), 1);
});
