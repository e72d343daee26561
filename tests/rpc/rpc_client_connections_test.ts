// RpcClient connections: rpc.startServer and rpc.openConnection over TCP and
// a Unix socket (accepted clients, server.close()), and maxConcurrentRequests,
// the limit on the calls a connection serves at once.
import assert from "node:assert/strict";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import { ConnectionClosedError } from "../../errors.ts";
import {
  expose,
  openConnection,
  RpcClient,
  startServer,
} from "../../rpc/mod.ts";
import { ClientService, MathServer } from "./_rpc_client_services.ts";

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
