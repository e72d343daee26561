// RpcClient end to end, over a memory pair, TCP and a Unix socket: typed
// proxies, errors, callbacks in both directions, references, concurrency,
// cancellation, closing, and the frames that go over the wire.
import assert from "node:assert/strict";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import {
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
  serializable,
  type SerializerSpec,
} from "../../codecs/mod.ts";
import {
  ConnectionClosedError,
  ProtocolError,
  RemoteError,
  SerializationError,
} from "../../errors.ts";
import {
  type DynamicRemote,
  expose,
  openConnection,
  type Remote,
  RpcClient,
  startServer,
} from "../../rpc/mod.ts";
import { connectPair, KINDS, tap } from "./_helpers.ts";

class Point {
  constructor(public x: number, public y: number) {}
}
const POINT: SerializerSpec = serializable(Point, ["x", "y"]);

class Unregistered {
  value = 1;
}

class Sub {
  @expose({ params: ["a", "b"] })
  mul(a: number, b = 1): number {
    return a * b;
  }
}

class MathServer {
  @expose
  sub: Sub = new Sub();
  /** `slow` waits for this; tests resolve it. */
  gate: PromiseWithResolvers<void> = Promise.withResolvers();
  /** Resolved when a `slow` call has started. */
  slowStarted: PromiseWithResolvers<void> = Promise.withResolvers();

  @expose
  add(a: number, b: number): number {
    return a + b;
  }

  @expose
  async slow(value: string): Promise<string> {
    this.slowStarted.resolve();
    await this.gate.promise;
    return value;
  }

  @expose
  fast(value: string): string {
    return value;
  }

  @expose
  echo(value: unknown): unknown {
    return value;
  }

  @expose
  fail(name: string, message: string): never {
    const error = new Error(message);
    error.name = name;
    throw error;
  }

  @expose
  async failAsync(): Promise<never> {
    await Promise.resolve();
    throw new RangeError("out of range");
  }

  @expose
  throwString(): never {
    throw "just a string";
  }

  @expose
  bytes(): Uint8Array {
    return new Uint8Array([1, 2, 3]);
  }

  @expose
  unregistered(): Unregistered {
    return new Unregistered();
  }

  @expose
  aFunction(): () => number {
    return () => 1;
  }

  @expose
  async callBack(peer: unknown): Promise<string> {
    return "client says " + await (peer as Remote<ClientService>).ping();
  }

  @expose
  async subEcho(sub: unknown): Promise<string> {
    return await (sub as Remote<ClientSub>).echo("x");
  }

  @expose
  async viaReturn(peer: unknown): Promise<string> {
    const sub = await (peer as Remote<ClientService>).getSub();
    return await (sub as unknown as Remote<ClientSub>).echo("y");
  }

  @expose
  getSub(): Sub {
    return this.sub;
  }

  @expose
  getSelf(): MathServer {
    return this;
  }

  @expose
  swap(p: Point): Point {
    return new Point(p.y, p.x);
  }

  @expose
  async describePoint(p: unknown, peer: unknown): Promise<unknown[]> {
    return [p instanceof Point, await (peer as Remote<ClientService>).ping()];
  }
}

class ClientSub {
  @expose
  echo(value: string): string {
    return `echo ${value}`;
  }
}

class ClientService {
  @expose
  sub: ClientSub = new ClientSub();

  @expose
  ping(): string {
    return "pong";
  }

  @expose
  getSub(): ClientSub {
    return this.sub;
  }
}

const CALL_SHAPE =
  "Cannot call: the request must be [path: string, args: array, kwargs: map]";

function lastLine(text: string): string {
  return text.split("\n").filter((line) => line.trim() !== "").at(-1) ?? "";
}

function remoteError(name: string, message: string | RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof RemoteError, `not a RemoteError: ${error}`);
    assert.equal(error.remoteName, name);
    if (typeof message === "string") {
      assert.equal(error.remoteMessage, message);
      assert.equal(lastLine(error.remoteTraceback), `${name}: ${message}`);
    } else {
      assert.match(error.remoteMessage, message);
    }
    assert.ok(error.remoteTraceback.endsWith("\n"));
    return true;
  };
}

function passOnError(label: string) {
  return {
    name: "SerializationError",
    message:
      `Cannot pass ${label} on: a proxy only works on its own connection (pass an address instead)`,
  };
}

function passBackError(label: string) {
  return {
    name: "SerializationError",
    message:
      `Cannot pass ${label} back to the peer it came from: a proxy is not sent, not even to its own peer (pass its path, or an agent's address, instead)`,
  };
}

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
        "Cannot encode bytes as JSON (use MsgPackCodec)",
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

  Deno.test(`rpc ${kind}: the server calls back services the client passed`, async () => {
    const clientService = new ClientService();
    await using pair = await connectPair<MathServer>(kind, new MathServer(), {
      clientService,
    });
    const { client, server } = pair;
    // As an argument: the root service, its router, a sub-service.
    assert.equal(
      await client.remote.callBack(clientService),
      "client says pong",
    );
    assert.equal(
      await client.remote.callBack(client.service),
      "client says pong",
    );
    assert.equal(await client.remote.subEcho(clientService.sub), "echo x");
    // As a return value: the server asks for the client's sub-service.
    assert.equal(await client.remote.viaReturn(clientService), "echo y");
    // The accepting side calls the connecting side directly.
    assert.equal(await server.remote.ping(), "pong");
    assert.equal(await server.remote.sub.echo("z"), "echo z");
    assert.equal(
      await server.call("getSub", []).then(String),
      "RpcProxy('sub')",
    );
  });

  Deno.test(`rpc ${kind}: services the server returns arrive as proxies`, async () => {
    await using pair = await connectPair<MathServer>(kind, new MathServer());
    const { client } = pair;
    const sub = await client.remote.getSub() as unknown as DynamicRemote;
    assert.equal(String(sub), "RpcProxy('sub')");
    assert.equal(await sub.mul(6, 7), 42);
    const self = await client.remote.getSelf() as unknown as DynamicRemote;
    assert.equal(String(self), "RpcProxy('')");
    assert.equal(await self.add(1, 2), 3);
    assert.equal(await self.sub.mul(2, 3), 6);
    // Proxies are not thenable, so they can be awaited and returned.
    assert.equal(await sub, sub);
  });

  Deno.test(`rpc ${kind}: a received proxy cannot be passed on`, async () => {
    await using pair = await connectPair<MathServer>(kind, new MathServer(), {
      clientService: new ClientService(),
    });
    await using other = await connectPair<MathServer>(kind, new MathServer());
    const { client } = pair;
    const sub = await client.remote.getSub() as unknown as DynamicRemote;
    // Back to its own connection.
    await assert.rejects(
      client.remote.echo(sub),
      passBackError("RpcProxy('sub')"),
    );
    await assert.rejects(
      client.remote.echo([{ p: sub }]),
      passBackError("RpcProxy('sub')"),
    );
    await assert.rejects(
      client.call("echo", [], { value: new Map([[1, sub]]) }),
      passBackError("RpcProxy('sub')"),
    );
    await assert.rejects(
      client.remote.echo(client.remote.add),
      passBackError("RpcProxy('add')"),
    );
    await assert.rejects(
      client.remote.echo(client.remote),
      passBackError("RpcProxy('')"),
    );
    // On to a third party.
    await assert.rejects(
      other.client.remote.echo(sub),
      passOnError("RpcProxy('sub')"),
    );
    // A handler that returns a proxy it received gets an error reply.
    const { message } = passBackError("RpcProxy('')");
    await assert.rejects(
      client.remote.echo(client.service),
      remoteError("SerializationError", message),
    );
    await assert.rejects(
      client.remote.echo([client.service]),
      remoteError("SerializationError", message),
    );
    // Both connections still work.
    assert.equal(await sub.mul(2, 5), 10);
    assert.equal(await other.client.remote.add(1, 2), 3);
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

  Deno.test(`rpc ${kind}: close rejects pending calls with ConnectionClosedError`, async () => {
    const service = new MathServer();
    await using pair = await connectPair<MathServer>(kind, service);
    const { client } = pair;
    // The handler is attached at once: the rejection may come at any time.
    const rejected = assert.rejects(
      client.remote.slow("x"),
      ConnectionClosedError,
    );
    await service.slowStarted.promise;
    await client.close();
    await rejected;
    await assert.rejects(client.remote.add(1, 2), ConnectionClosedError);
    await client.close();
    await client.closed;
    // The handler ends; its reply has nowhere to go.
    service.gate.resolve();
  });

  Deno.test(`rpc ${kind}: the peer closing rejects pending calls`, async () => {
    const service = new MathServer();
    const reset = Promise.withResolvers<unknown>();
    let resets = 0;
    await using pair = await connectPair<MathServer>(kind, service, {
      onClientReset: (error) => {
        resets++;
        reset.resolve(error);
      },
    });
    const { client, server } = pair;
    const rejected = assert.rejects(
      client.remote.slow("x"),
      ConnectionClosedError,
    );
    await service.slowStarted.promise;
    // No time to answer: the call is cut off.
    await server.close({ timeout: 0 });
    await rejected;
    assert.equal(await reset.promise, undefined);
    await client.closed;
    await assert.rejects(client.remote.add(1, 2), ConnectionClosedError);
    await client.close();
    assert.equal(resets, 1);
    service.gate.resolve();
  });

  Deno.test(`rpc ${kind}: the peer closing still answers the calls it is serving`, async () => {
    const service = new MathServer();
    const reset = Promise.withResolvers<unknown>();
    await using pair = await connectPair<MathServer>(kind, service, {
      onClientReset: reset.resolve,
    });
    const { client, server } = pair;
    const pending = client.remote.slow("x");
    await service.slowStarted.promise;
    const closing = server.close();
    await assert.rejects(server.remote.ping(), ConnectionClosedError);
    service.gate.resolve();
    await closing;
    assert.equal(await pending, "x");
    assert.equal(await reset.promise, undefined);
    await assert.rejects(client.remote.add(1, 2), ConnectionClosedError);
  });

  Deno.test(`rpc ${kind}: onConnectionReset is not called after a local close`, async () => {
    let resets = 0;
    await using pair = await connectPair<MathServer>(kind, new MathServer(), {
      onClientReset: () => resets++,
    });
    const { client, server } = pair;
    assert.equal(await client.remote.add(1, 2), 3);
    await client.close();
    await client.closed;
    await server.closed;
    assert.equal(resets, 0);
  });

  Deno.test(`rpc ${kind}: user serializers work alongside references`, async () => {
    await using pair = await connectPair<MathServer>(kind, new MathServer(), {
      serializers: [POINT],
      clientService: new ClientService(),
    });
    const { client } = pair;
    const swapped = await client.remote.swap(new Point(1, 2));
    assert.ok(swapped instanceof Point);
    assert.deepEqual(swapped, new Point(2, 1));
    assert.deepEqual(
      await client.remote.describePoint(new Point(1, 2), client.service),
      [true, "pong"],
    );
    const sub = await client.remote.getSub() as unknown as DynamicRemote;
    assert.equal(await sub.mul(3, 3), 9);
  });
}

for (const codec of [JsonCodec, MsgPackCodec, MsgPackBloscCodec]) {
  Deno.test(`rpc memory ${codec.name}: calls, callbacks and references`, async () => {
    await using pair = await connectPair<MathServer>(
      "memory",
      new MathServer(),
      {
        codec,
        serializers: [POINT],
        clientService: new ClientService(),
      },
    );
    const { client } = pair;
    assert.equal(await client.remote.add(3, 4), 7);
    assert.equal(await client.call("sub/mul", [6], { b: 7 }), 42);
    assert.equal(
      await client.remote.callBack(client.service),
      "client says pong",
    );
    assert.deepEqual(
      await client.remote.swap(new Point(1, 2)),
      new Point(2, 1),
    );
    await assert.rejects(
      client.remote.fail("ValueError", "42"),
      remoteError("ValueError", "42"),
    );
    const sub = await client.remote.getSub() as unknown as DynamicRemote;
    assert.equal(await sub.mul(6, 7), 42);
    await assert.rejects(
      client.remote.echo(sub),
      passBackError("RpcProxy('sub')"),
    );
    assert.equal(await client.remote.add(1, 1), 2);
  });
}

// Wire checks: over a memory pair whose frames are recorded (JSON codec,
// parsed as plain JSON so that `__type__` maps stay data).

interface WirePair extends AsyncDisposable {
  client: RpcClient<MathServer>;
  server: RpcClient;
  /** Frames the client wrote. */
  sent(): unknown[];
  /** Frames the server wrote. */
  received(): unknown[];
}

function wirePair(
  service: object,
  options: { clientService?: object; serializers?: SerializerSpec[] } = {},
): WirePair {
  const [a, b] = createMemoryPair();
  const clientTap = tap(a);
  const serverTap = tap(b);
  const codec = (serializers: SerializerSpec[] = []) => {
    const json = new JsonCodec();
    for (const spec of serializers) json.addSerializer(...spec);
    return json;
  };
  const server = new RpcClient(
    new Channel(serverTap.transport, { codec: codec(options.serializers) }),
    { service },
  );
  const client = new RpcClient<MathServer>(
    new Channel(clientTap.transport, { codec: codec(options.serializers) }),
    { service: options.clientService },
  );
  return {
    client,
    server,
    sent: clientTap.frames,
    received: serverTap.frames,
    async [Symbol.asyncDispose]() {
      await client.close();
      await server.close();
    },
  };
}

Deno.test("rpc wire: a call is [0, id, [path, args, kwargs]], a reply [1, id, value]", async () => {
  await using pair = wirePair(new MathServer());
  assert.equal(await pair.client.remote.add(3, 4), 7);
  assert.equal(await pair.client.remote.sub.mul(6), 6);
  assert.equal(await pair.client.call("sub/mul", [6], { b: 7 }), 42);
  assert.deepEqual(pair.sent(), [
    [0, 0, ["add", [3, 4], {}]],
    [0, 1, ["sub/mul", [6], {}]],
    [0, 2, ["sub/mul", [6], { b: 7 }]],
  ]);
  assert.deepEqual(pair.received(), [[1, 0, 7], [1, 1, 6], [1, 2, 42]]);
});

Deno.test("rpc wire: services travel as {__type__: [0, path]} without user serializers", async () => {
  const clientService = new ClientService();
  await using pair = wirePair(new MathServer(), { clientService });
  assert.equal(
    await pair.client.remote.callBack(clientService),
    "client says pong",
  );
  assert.equal(await pair.client.remote.subEcho(clientService.sub), "echo x");
  const sub = await pair.client.remote.getSub() as unknown as DynamicRemote;
  assert.equal(await sub.mul(2, 3), 6);
  assert.deepEqual(pair.sent(), [
    [0, 0, ["callBack", [{ __type__: [0, ""] }], {}]],
    [1, 0, "pong"],
    [0, 1, ["subEcho", [{ __type__: [0, "sub"] }], {}]],
    [1, 1, "echo x"],
    [0, 2, ["getSub", [], {}]],
    [0, 3, ["sub/mul", [2, 3], {}]],
  ]);
  assert.deepEqual(pair.received(), [
    [0, 0, ["ping", [], {}]],
    [1, 0, "client says pong"],
    [0, 1, ["sub/echo", ["x"], {}]],
    [1, 1, "echo x"],
    [1, 2, { __type__: [0, "sub"] }],
    [1, 3, 6],
  ]);
});

Deno.test("rpc wire: user serializers come first, the reference fallback last", async () => {
  const clientService = new ClientService();
  await using pair = wirePair(new MathServer(), {
    clientService,
    serializers: [POINT],
  });
  assert.deepEqual(
    await pair.client.remote.describePoint(new Point(1, 2), clientService),
    [true, "pong"],
  );
  assert.equal(await pair.client.remote.subEcho(clientService.sub), "echo x");
  const swapped = await pair.client.remote.swap(new Point(1, 2));
  assert.deepEqual(swapped, new Point(2, 1));
  const sent = pair.sent();
  assert.deepEqual(sent[0], [0, 0, [
    "describePoint",
    [{ __type__: [0, { x: 1, y: 2 }] }, { __type__: [1, ""] }],
    {},
  ]]);
  assert.deepEqual(sent[2], [0, 1, [
    "subEcho",
    [{ __type__: [1, "sub"] }],
    {},
  ]]);
  assert.deepEqual(pair.received().at(-1), [1, 2, {
    __type__: [0, { x: 2, y: 1 }],
  }]);
});

Deno.test("rpc wire: calling the root proxy rejects locally and sends nothing", async () => {
  await using pair = wirePair(new MathServer());
  const rootError = {
    name: "TypeError",
    message: "Cannot call a remote service itself: name a method",
  };
  // Typed remotes have no call signature; a dynamic one does.
  const root = pair.client.remote as unknown as DynamicRemote;
  await assert.rejects(root(), rootError);
  const self = await pair.client.remote.getSelf() as unknown as DynamicRemote;
  await assert.rejects(self(1, 2), rootError);
  assert.equal(await pair.client.remote.add(1, 2), 3);
  assert.deepEqual(pair.sent(), [
    [0, 0, ["getSelf", [], {}]],
    [0, 1, ["add", [1, 2], {}]],
  ]);
});

Deno.test("rpc wire: passing a received proxy on sends nothing", async () => {
  await using pair = wirePair(new MathServer());
  const sub = await pair.client.remote.getSub() as unknown as DynamicRemote;
  await assert.rejects(pair.client.remote.echo(sub), SerializationError);
  await assert.rejects(pair.client.remote.echo([sub]), SerializationError);
  assert.equal(await pair.client.remote.add(1, 2), 3);
  assert.deepEqual(pair.sent(), [
    [0, 0, ["getSub", [], {}]],
    [0, 1, ["add", [1, 2], {}]],
  ]);
});

Deno.test("rpc wire: replies go out in the order the handlers finish", async () => {
  const service = new MathServer();
  await using pair = wirePair(service);
  const slow = pair.client.remote.slow("slow");
  await service.slowStarted.promise;
  assert.equal(await pair.client.remote.fast("fast"), "fast");
  service.gate.resolve();
  assert.equal(await slow, "slow");
  assert.deepEqual(pair.sent(), [
    [0, 0, ["slow", ["slow"], {}]],
    [0, 1, ["fast", ["fast"], {}]],
  ]);
  assert.deepEqual(pair.received(), [[1, 1, "fast"], [1, 0, "slow"]]);
});

Deno.test("rpc wire: malformed calls and unencodable replies get one error reply each", async () => {
  await using pair = wirePair(new MathServer());
  await assert.rejects(pair.client.channel.send(["add", [1, 2]]), RemoteError);
  await assert.rejects(pair.client.remote.bytes(), RemoteError);
  const replies = pair.received() as [number, number, string][];
  assert.deepEqual(replies.map(([type, id]) => [type, id]), [[2, 0], [2, 1]]);
  assert.equal(lastLine(replies[0][2]), `TypeError: ${CALL_SHAPE}`);
  assert.equal(
    lastLine(replies[1][2]),
    "SerializationError: Cannot encode bytes as JSON (use MsgPackCodec)",
  );
});

Deno.test("rpc: onConnectionReset gets the error that broke the connection", async () => {
  const [a, b] = createMemoryPair();
  const reset = Promise.withResolvers<unknown>();
  await using client = new RpcClient(new Channel(a), {
    onConnectionReset: reset.resolve,
  });
  const writer = b.writable.getWriter();
  const garbage = new TextEncoder().encode("not json");
  const frame = new Uint8Array(4 + garbage.length);
  new DataView(frame.buffer).setUint32(0, garbage.length);
  frame.set(garbage, 4);
  await writer.write(frame);
  const error = await reset.promise;
  assert.ok(error instanceof ProtocolError, String(error));
  await assert.rejects(client.closed, ProtocolError);
  await writer.close().catch(() => {});
  // The channel cut the connection: the peer sees a reset, not a clean end.
  await assert.rejects(b.readable.cancel(), { name: "NetworkError" });
});

Deno.test("rpc: an Object serializer of the user's own is refused", async () => {
  const codec = new JsonCodec();
  codec.addSerializer(Object, () => null, () => null);
  const [a, b] = createMemoryPair();
  await using channel = new Channel(a, { codec });
  await using peer = new Channel(b);
  assert.throws(() => new RpcClient(channel), TypeError);
  assert.equal(peer.isClosed, false);
});

Deno.test("rpc: await using closes both ends", async () => {
  const [a, b] = createMemoryPair();
  let client: RpcClient<MathServer>;
  let server: RpcClient;
  {
    await using s = new RpcClient(new Channel(b), {
      service: new MathServer(),
    });
    await using c = new RpcClient<MathServer>(new Channel(a));
    assert.equal(await c.remote.add(1, 2), 3);
    client = c;
    server = s;
  }
  assert.equal(client.channel.isClosed, true);
  assert.equal(server.channel.isClosed, true);
  await client.closed;
  await server.closed;
});

// rpc.startServer and rpc.openConnection over sockets.

async function socketAddress(kind: "tcp" | "unix") {
  if (kind === "tcp") {
    return {
      addr: { hostname: "127.0.0.1", port: 0 },
      async [Symbol.asyncDispose]() {},
    };
  }
  const dir = await Deno.makeTempDir();
  return {
    addr: { path: `${dir}/rpc.sock` },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

for (const kind of ["tcp", "unix"] as const) {
  Deno.test(`rpc ${kind}: onConnection gets a client that calls the connecting side`, async () => {
    await using where = await socketAddress(kind);
    const pong = Promise.withResolvers<unknown>();
    const serverReset = Promise.withResolvers<unknown>();
    await using server = await startServer(where.addr, new MathServer(), {
      onConnection: (client) => {
        client.remote.sub.echo("hi").then(pong.resolve, pong.reject);
      },
      onConnectionReset: serverReset.resolve,
    });
    await using client = await openConnection<MathServer>(server.addr, {
      service: new ClientService(),
    });
    assert.equal(await pong.promise, "echo hi");
    assert.equal(server.clients.size, 1);
    const [accepted] = server.clients;
    assert.equal(await accepted.remote.ping(), "pong");
    assert.equal(await client.remote.add(1, 2), 3);
    // The connecting side closing is a reset for the server's side.
    await client.close();
    assert.equal(await serverReset.promise, undefined);
    await accepted.closed;
    assert.equal(server.clients.size, 0);
  });

  Deno.test(`rpc ${kind}: server.close() closes every connection`, async () => {
    await using where = await socketAddress(kind);
    const service = new MathServer();
    let serverResets = 0;
    const connected = Promise.withResolvers<void>();
    await using server = await startServer(where.addr, service, {
      onConnection: () => server.clients.size === 2 && connected.resolve(),
      onConnectionReset: () => serverResets++,
    });
    const clientResets: unknown[] = [];
    await using first = await openConnection<MathServer>(server.addr, {
      onConnectionReset: (error) => clientResets.push(error),
    });
    await using second = await openConnection<MathServer>(server.addr, {
      onConnectionReset: (error) => clientResets.push(error),
    });
    await connected.promise;
    const rejected = assert.rejects(
      first.remote.slow("x"),
      ConnectionClosedError,
    );
    await service.slowStarted.promise;
    await server.close({ timeout: 0 });
    await server.closed;
    await rejected;
    await first.closed;
    await second.closed;
    await assert.rejects(second.remote.add(1, 2), ConnectionClosedError);
    assert.equal(server.clients.size, 0);
    assert.deepEqual(clientResets, [undefined, undefined]);
    // Closing the server is a local close for its connections.
    assert.equal(serverResets, 0);
    service.gate.resolve();
  });
}

Deno.test("maxConcurrentRequests: a peer's calls beyond it wait, then all are answered", async () => {
  const gate = Promise.withResolvers<void>();
  let running = 0;
  let most = 0;
  const reachedLimit = Promise.withResolvers<void>();
  class Gated {
    @expose
    async wait(i: number): Promise<number> {
      running++;
      most = Math.max(most, running);
      if (running === 2) reachedLimit.resolve();
      await gate.promise;
      running--;
      return i;
    }
  }
  const [a, b] = createMemoryPair();
  await using _server = new RpcClient(new Channel(b), {
    service: new Gated(),
    maxConcurrentRequests: 2,
  });
  await using client = new RpcClient<Gated>(new Channel(a));
  const calls = Array.from({ length: 10 }, (_, i) => client.remote.wait(i));
  await reachedLimit.promise;
  // Give the server every chance to start more calls than allowed.
  for (let i = 0; i < 20; i++) await Promise.resolve();
  assert.equal(running, 2);
  gate.resolve();
  assert.deepEqual(await Promise.all(calls), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(most, 2);
});

Deno.test("maxConcurrentRequests: RpcClient sets it on its channel; calls beyond it are answered in turn", async () => {
  const [a, b] = createMemoryPair();
  await using server = new RpcClient(new Channel(b), {
    service: new MathServer(),
    maxConcurrentRequests: 2,
  });
  assert.equal(server.channel.maxConcurrentRequests, 2);
  await using client = new RpcClient<MathServer>(new Channel(a));
  assert.equal(client.channel.maxConcurrentRequests, 1024);
  const calls = Array.from(
    { length: 10 },
    (_, i) => client.remote.fast(`${i}`),
  );
  assert.deepEqual(
    await Promise.all(calls),
    ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
  );
  assert.throws(
    () => new RpcClient(server.channel, { maxConcurrentRequests: 0 }),
    RangeError,
  );
});

for (const kind of ["tcp", "unix"] as const) {
  Deno.test(`rpc ${kind}: openConnection and startServer pass maxConcurrentRequests to their channels`, async () => {
    await using place = await socketAddress(kind);
    const accepted = Promise.withResolvers<RpcClient>();
    await using server = await startServer(place.addr, new MathServer(), {
      maxConcurrentRequests: 3,
      onConnection: (client) => accepted.resolve(client),
    });
    await using client = await openConnection<MathServer>(server.addr, {
      maxConcurrentRequests: 5,
    });
    assert.equal(client.channel.maxConcurrentRequests, 5);
    assert.equal((await accepted.promise).channel.maxConcurrentRequests, 3);
    assert.equal(await client.remote.add(1, 2), 3);
  });
}
