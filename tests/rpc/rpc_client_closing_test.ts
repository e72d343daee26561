// RpcClient closing, over a memory pair, TCP and a Unix socket: pending
// calls on a local or remote close, onConnectionReset, and await using.
import assert from "node:assert/strict";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import { ConnectionClosedError, ProtocolError } from "../../errors.ts";
import { RpcClient } from "../../rpc/mod.ts";
import { connectPair, KINDS } from "./_helpers.ts";
import { MathServer } from "./_rpc_client_services.ts";

for (const kind of KINDS) {
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
}

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

Deno.test("rpc: an onConnectionReset that throws is logged, not an unhandled rejection", async () => {
  const logged = Promise.withResolvers<unknown[]>();
  const error = console.error;
  console.error = (...args: unknown[]) => logged.resolve(args);
  try {
    const [a, b] = createMemoryPair();
    await using client = new RpcClient(new Channel(a), {
      onConnectionReset: () => {
        throw new Error("hook failed");
      },
    });
    await using peer = new RpcClient(new Channel(b));
    await peer.close();
    const [text, thrown] = await logged.promise;
    assert.equal(text, "aiomas: onConnectionReset threw:");
    assert.equal((thrown as Error).message, "hook failed");
    await client.closed;
  } finally {
    console.error = error;
  }
});
