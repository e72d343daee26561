// Every call can be bounded: RpcClientOptions.callTimeout for all calls of
// a client, withOptions(proxy, { timeout, signal }) per proxy. A call that
// times out or is aborted rejects with the standard DOMException, its late
// reply is dropped, and nothing extra goes over the wire.
import assert from "node:assert/strict";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import {
  type DynamicRemote,
  expose,
  type Remote,
  RpcClient,
  withOptions,
} from "../../rpc/mod.ts";
import { connectPair, KINDS, tap } from "./_helpers.ts";

/** A service whose `slow` calls wait for `gate`. */
class Gated {
  @expose
  sub: GatedSub;
  gate: PromiseWithResolvers<void> = Promise.withResolvers();
  started: PromiseWithResolvers<void> = Promise.withResolvers();
  constructor() {
    this.sub = new GatedSub(this);
  }

  @expose
  async slow(value: string): Promise<string> {
    this.started.resolve();
    await this.gate.promise;
    return value;
  }

  @expose
  add(a: number, b: number): number {
    return a + b;
  }

  @expose
  getSub(): GatedSub {
    return this.sub;
  }
}

class GatedSub {
  #owner: Gated;
  constructor(owner: Gated) {
    this.#owner = owner;
  }

  @expose
  slow(value: string): Promise<string> {
    return this.#owner.slow(value);
  }
}

function isDomException(name: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof DOMException, `not a DOMException: ${error}`);
    assert.equal(error.name, name);
    return true;
  };
}

/** Two RpcClients on a memory pair, the client's frames recorded. */
function memoryPair(service: object, clientCallTimeout?: number) {
  const [a, b] = createMemoryPair();
  const clientTap = tap(a);
  const server = new RpcClient(new Channel(b), { service });
  const client = new RpcClient<Gated>(new Channel(clientTap.transport), {
    callTimeout: clientCallTimeout,
  });
  return {
    client,
    server,
    sent: clientTap.frames,
    async [Symbol.asyncDispose]() {
      await client.close();
      await server.close();
    },
  };
}

for (const kind of KINDS) {
  Deno.test(`withOptions ${kind}: a proxy call times out, its late reply is dropped, the next call works`, async () => {
    const service = new Gated();
    await using pair = await connectPair<Gated>(kind, service);
    const bounded = withOptions(pair.client.remote, { timeout: 1 });
    await assert.rejects(bounded.slow("late"), isDomException("TimeoutError"));
    await service.started.promise;
    // The reply comes after the call gave up: it is dropped, not an error
    // that closes the connection.
    service.gate.resolve();
    assert.equal(await bounded.add(1, 2), 3);
    assert.equal(await pair.client.remote.slow("now"), "now");
    assert.equal(pair.client.channel.isClosed, false);
  });

  Deno.test(`withOptions ${kind}: an aborted proxy call rejects with AbortError`, async () => {
    const service = new Gated();
    await using pair = await connectPair<Gated>(kind, service);
    const controller = new AbortController();
    const remote = withOptions(pair.client.remote, {
      signal: controller.signal,
    });
    const call = remote.slow("aborted");
    await service.started.promise;
    controller.abort();
    await assert.rejects(call, isDomException("AbortError"));
    // Aborted already: rejected without sending.
    await assert.rejects(remote.add(1, 2), isDomException("AbortError"));
    const reason = new Error("stop");
    const other = new AbortController();
    const stopped = withOptions(pair.client.remote.slow, {
      signal: other.signal,
    })("x");
    other.abort(reason);
    await assert.rejects(stopped, (error) => error === reason);
    service.gate.resolve();
    assert.equal(await pair.client.remote.slow("now"), "now");
  });
}

Deno.test("callTimeout: applies to every call of the client's proxies and to call()", async () => {
  const service = new Gated();
  await using pair = memoryPair(service, 1);
  const { client } = pair;
  await assert.rejects(
    client.remote.slow("x"),
    (error: unknown) => {
      assert.ok(error instanceof DOMException);
      assert.equal(error.name, "TimeoutError");
      assert.match(error.message, /timed out after 1 ms/);
      return true;
    },
  );
  await assert.rejects(
    client.remote.sub.slow("x"),
    isDomException("TimeoutError"),
  );
  await assert.rejects(
    client.call("slow", ["x"]),
    isDomException("TimeoutError"),
  );
  // Proxies of references received from the peer use it too.
  const sub = await withOptions(client.remote, { timeout: Infinity }).getSub();
  await assert.rejects(
    (sub as unknown as DynamicRemote).slow("x"),
    isDomException("TimeoutError"),
  );
  service.gate.resolve();
  assert.equal(await client.remote.add(1, 2), 3);
});

Deno.test("callTimeout: a call's own timeout overrides it, Infinity means none", async () => {
  const service = new Gated();
  await using pair = memoryPair(service, 1);
  const { client } = pair;
  const unbounded = withOptions(client.remote, { timeout: Infinity }).slow(
    "waited",
  );
  const viaCall = client.call("slow", ["called"], {}, { timeout: Infinity });
  await service.started.promise;
  service.gate.resolve();
  assert.equal(await unbounded, "waited");
  assert.equal(await viaCall, "called");
  // A signal alone keeps the client's callTimeout.
  const again = new Gated();
  await using second = memoryPair(again, 1);
  const signal = new AbortController().signal;
  await assert.rejects(
    withOptions(second.client.remote, { signal }).slow("x"),
    isDomException("TimeoutError"),
  );
  again.gate.resolve();
});

Deno.test("callTimeout: undefined by default, so a slow call waits", async () => {
  const service = new Gated();
  await using pair = memoryPair(service);
  const call = pair.client.remote.slow("patient");
  await service.started.promise;
  service.gate.resolve();
  assert.equal(await call, "patient");
});

Deno.test("withOptions: sub-proxies inherit the options; options merge", async () => {
  const service = new Gated();
  await using pair = memoryPair(service);
  const { client } = pair;
  const bounded = withOptions(client.remote, { timeout: 1 });
  await assert.rejects(bounded.sub.slow("x"), isDomException("TimeoutError"));
  await assert.rejects(
    withOptions(client.remote.sub, { timeout: 1 }).slow("x"),
    isDomException("TimeoutError"),
  );
  await assert.rejects(
    withOptions(client.remote.sub.slow, { timeout: 1 })("x"),
    isDomException("TimeoutError"),
  );
  // A later timeout replaces the earlier one; signals both apply.
  const first = new AbortController();
  const second = new AbortController();
  const merged = withOptions(
    withOptions(bounded, { signal: first.signal }),
    { timeout: Infinity, signal: second.signal },
  );
  const byFirst = merged.sub.slow("x");
  const bySecond = merged.slow("y");
  first.abort();
  await assert.rejects(byFirst, isDomException("AbortError"));
  await assert.rejects(bySecond, isDomException("AbortError"));
  // The original proxies are unchanged.
  const plain = client.remote.slow("plain");
  service.gate.resolve();
  assert.equal(await plain, "plain");
  assert.equal(String(bounded.sub), "RpcProxy('sub')");
});

Deno.test("withOptions: the peer gets the same request as without options", async () => {
  const service = new Gated();
  service.gate.resolve();
  await using pair = memoryPair(service);
  const { client } = pair;
  const signal = new AbortController().signal;
  assert.equal(await client.remote.slow("a"), "a");
  assert.equal(
    await withOptions(client.remote, { timeout: 5000, signal }).slow("a"),
    "a",
  );
  assert.equal(
    await withOptions(client.remote.sub, { timeout: 5000 }).slow("b"),
    "b",
  );
  assert.deepEqual(pair.sent(), [
    [0, 0, ["slow", ["a"], {}]],
    [0, 1, ["slow", ["a"], {}]],
    [0, 2, ["sub/slow", ["b"], {}]],
  ]);
});

Deno.test("withOptions: keeps the proxy's type", async () => {
  await using pair = memoryPair(new Gated());
  const { client } = pair;
  const typed: Remote<Gated> = withOptions(client.remote, { timeout: 1 });
  const method: (v: string) => Promise<string> = withOptions(
    client.remote.slow,
    { timeout: 1 },
  );
  assert.equal(typeof typed.add, "function");
  assert.equal(typeof method, "function");
});

Deno.test("withOptions: refuses what is not a proxy and bad options", async () => {
  await using pair = memoryPair(new Gated());
  const { client } = pair;
  assert.throws(() => withOptions({}, { timeout: 1 }), {
    name: "TypeError",
    message: "withOptions() takes a remote proxy, got an object",
  });
  assert.throws(() => withOptions(() => 1, {}), TypeError);
  for (const timeout of [-1, NaN, "1" as unknown as number]) {
    assert.throws(
      () => withOptions(client.remote, { timeout }),
      RangeError,
      String(timeout),
    );
  }
  assert.throws(
    () =>
      withOptions(client.remote, {
        signal: {} as AbortSignal,
      }),
    { name: "TypeError", message: "signal must be an AbortSignal" },
  );
  assert.throws(() => new RpcClient(client.channel, { callTimeout: -5 }), {
    name: "RangeError",
    message:
      "callTimeout must be a number of milliseconds from 0 up (Infinity for none), got -5",
  });
});
