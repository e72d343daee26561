// Handlers learn that their caller is gone: a function exposed with
// `context: true` reads callContext(), whose signal aborts when the
// connection its call came on closes. Other functions have no context.
import assert from "node:assert/strict";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import {
  type CallContext,
  callContext,
  expose,
  RpcClient,
  ServiceDict,
} from "../../rpc/mod.ts";
import { connectPair, KINDS } from "./_helpers.ts";

/** Records what its handlers saw of their context. */
class Watcher {
  started: PromiseWithResolvers<CallContext> = Promise.withResolvers();
  stopped: PromiseWithResolvers<unknown> = Promise.withResolvers();

  /** Runs until its caller is gone. */
  @expose({ context: true })
  async work(): Promise<string> {
    const context = callContext();
    this.started.resolve(context);
    await new Promise((resolve) =>
      context.signal.addEventListener("abort", resolve)
    );
    // Still the same context after an await.
    assert.equal(callContext(), context);
    this.stopped.resolve(context.signal.reason);
    return "stopped";
  }

  @expose({ context: true })
  async peerAfterAwait(): Promise<[string, boolean]> {
    await Promise.resolve();
    await new Promise((resolve) => setTimeout(resolve, 0));
    const { peer, signal } = callContext();
    return [peer, signal.aborted];
  }

  @expose({ context: true, params: ["a", "b"] })
  sum(a: number, b = 10): number {
    callContext();
    return a + b;
  }

  /** Not marked: no context. */
  @expose
  plain(): string {
    try {
      callContext();
      return "had a context";
    } catch (error) {
      return (error as Error).message;
    }
  }
}

for (const kind of KINDS) {
  Deno.test(`callContext ${kind}: the signal aborts when the client closes the connection`, async () => {
    const service = new Watcher();
    await using pair = await connectPair<Watcher>(kind, service);
    // No context argument in the proxy's type or on the wire.
    const call: Promise<string> = pair.client.remote.work();
    const rejected = assert.rejects(call, { name: "ConnectionClosedError" });
    const context = await service.started.promise;
    assert.equal(context.signal.aborted, false);
    await pair.client.close();
    await rejected;
    const reason = await service.stopped.promise;
    assert.ok(context.signal.aborted);
    assert.ok(reason instanceof Error, String(reason));
    assert.equal(reason.name, "ConnectionClosedError");
  });
}

Deno.test("callContext: the peer, across awaits; arguments and kwargs unchanged", async () => {
  const service = new Watcher();
  await using pair = await connectPair<Watcher>("tcp", service);
  const [peer, aborted] = await pair.client.remote.peerAfterAwait();
  assert.equal(peer, pair.server.channel.peer);
  assert.match(peer, /^127\.0\.0\.1:\d+$/);
  assert.equal(aborted, false);
  assert.equal(await pair.client.remote.sum(1, 2), 3);
  assert.equal(await pair.client.call("sum", [1], { b: 5 }), 6);
  assert.equal(await pair.client.remote.sum(1), 11);
});

Deno.test("callContext: only for functions marked context: true", async () => {
  const service = new Watcher();
  await using pair = await connectPair<Watcher>("memory", service);
  assert.equal(
    await pair.client.remote.plain(),
    "callContext() is only available while serving a call to a function exposed with @expose({ context: true })",
  );
  assert.throws(() => callContext(), {
    name: "Error",
    message: /only available while serving a call/,
  });
});

Deno.test("callContext: plain functions in a ServiceDict can ask for it", async () => {
  const [a, b] = createMemoryPair();
  const seen = Promise.withResolvers<AbortSignal>();
  await using _server = new RpcClient(new Channel(b), {
    service: new ServiceDict({
      ask: expose(() => {
        seen.resolve(callContext().signal);
        return "ok";
      }, { context: true }),
    }),
  });
  const client = new RpcClient(new Channel(a));
  assert.equal(await client.remote.ask(), "ok");
  const signal = await seen.promise;
  assert.equal(signal.aborted, false);
  await client.close();
  await _server.closed;
  assert.equal(signal.aborted, true);
});

Deno.test("callContext: a connection made inside a context handler does not hand that call's context to its own calls", async () => {
  class Inner {
    @expose
    plain(): string {
      try {
        return `leaked: ${callContext().peer}`;
      } catch {
        return "no context";
      }
    }

    // Also after its first await.
    @expose
    async later(): Promise<string> {
      await null;
      return this.plain();
    }
  }
  let inner: RpcClient<Inner> | undefined;
  const closers: RpcClient[] = [];
  class Outer {
    @expose({ context: true })
    setup(): void {
      const [x, y] = createMemoryPair();
      closers.push(new RpcClient(new Channel(x), { service: new Inner() }));
      inner = new RpcClient<Inner>(new Channel(y));
      closers.push(inner as RpcClient);
    }
  }
  const [a, b] = createMemoryPair();
  await using _server = new RpcClient(new Channel(b), { service: new Outer() });
  await using client = new RpcClient<Outer>(new Channel(a));
  await client.remote.setup();
  try {
    assert.equal(await inner!.remote.plain(), "no context");
    assert.equal(await inner!.remote.later(), "no context");
  } finally {
    for (const closer of closers) await closer.close();
  }
});
