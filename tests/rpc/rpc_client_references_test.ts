// RpcClient references: services passed as arguments and returned as
// proxies, proxies that cannot be passed on, and user serializers (every
// codec) alongside the reference fallback.
import assert from "node:assert/strict";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import {
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";
import { type DynamicRemote, RpcClient } from "../../rpc/mod.ts";
import { connectPair, KINDS } from "./_helpers.ts";
import {
  ClientService,
  MathServer,
  passBackError,
  passOnError,
  POINT,
  Point,
  remoteError,
} from "./_rpc_client_services.ts";

for (const kind of KINDS) {
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

Deno.test("rpc: an Object serializer of the user's own is refused", async () => {
  const codec = new JsonCodec();
  codec.addSerializer(Object, () => null, () => null);
  const [a, b] = createMemoryPair();
  await using channel = new Channel(a, { codec });
  await using peer = new Channel(b);
  assert.throws(() => new RpcClient(channel), TypeError);
  assert.equal(peer.isClosed, false);
});
