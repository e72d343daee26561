// The frames RpcClient puts on the wire: calls, replies and error replies,
// services as {__type__: ...}, and what is refused before anything is sent.
import assert from "node:assert/strict";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import { JsonCodec, type SerializerSpec } from "../../codecs/mod.ts";
import { RemoteError, SerializationError } from "../../errors.ts";
import { type DynamicRemote, RpcClient } from "../../rpc/mod.ts";
import { tap } from "./_helpers.ts";
import {
  CALL_SHAPE,
  ClientService,
  lastLine,
  MathServer,
  POINT,
  Point,
} from "./_rpc_client_services.ts";

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

Deno.test('rpc wire: calling the root proxy, or call(""), rejects locally and sends nothing', async () => {
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
  // The explicit form too.
  await assert.rejects(pair.client.call(""), rootError);
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
    "SerializationError: Cannot encode bytes as JSON (use MsgPackCodec, or add a serializer for Uint8Array)",
  );
});
