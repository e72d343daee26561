// Every agent call can be bounded (callTimeout, withOptions), locally as
// remotely, and handlers learn through callContext().signal that their
// caller is gone.
import assert from "node:assert/strict";
import { Agent, type AgentProxy, Container } from "../../agent/mod.ts";
import { ConnectionClosedError } from "../../errors.ts";
import { callContext, expose, withOptions } from "../../rpc/mod.ts";

const LOCAL = { hostname: "127.0.0.1", port: 0 };

class Slow extends Agent {
  /** Resolves `hang` calls when released. */
  #gate = Promise.withResolvers<string>();
  /** Resolved when a `hang` or `work` call has started. */
  entered = Promise.withResolvers<void>();
  /** What `work` saw its signal abort with. */
  stopped = Promise.withResolvers<unknown>();

  release(): void {
    this.#gate.resolve("late");
  }

  @expose
  hang(): Promise<string> {
    this.entered.resolve();
    return this.#gate.promise;
  }

  @expose
  add(a: number, b: number): number {
    return a + b;
  }

  @expose
  echo(value: unknown): unknown {
    return value;
  }

  /** Long work that stops when its caller is gone. */
  @expose({ context: true })
  async work(): Promise<string> {
    const { signal } = callContext();
    this.entered.resolve();
    await new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
    this.stopped.resolve(signal.reason);
    return "stopped";
  }
}

/** Two containers: `slow` lives in `b`; a remote proxy from `a`, a local one from `b`. */
async function setUp(options: { callTimeout?: number } = {}): Promise<{
  a: Container;
  b: Container;
  slow: Slow;
  remote: AgentProxy<Slow>;
  local: AgentProxy<Slow>;
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const a = await Container.create(LOCAL, options);
  const b = await Container.create(LOCAL, options);
  const slow = new Slow(b);
  const remote = await a.connect<Slow>(slow.addr);
  const local = await b.connect<Slow>(slow.addr);
  return {
    a,
    b,
    slow,
    remote,
    local,
    async [Symbol.asyncDispose]() {
      slow.release();
      await a.shutdown();
      await b.shutdown();
    },
  };
}

function proxiesOf(
  t: { remote: AgentProxy<Slow>; local: AgentProxy<Slow> },
): [string, AgentProxy<Slow>][] {
  return [["remote", t.remote], ["local", t.local]];
}

Deno.test("callTimeout of a container bounds its remote and local agent calls", async () => {
  await using t = await setUp({ callTimeout: 30 });
  for (const [name, proxy] of proxiesOf(t)) {
    await assert.rejects(proxy.hang(), (error) => {
      assert.ok(error instanceof DOMException, `${name}: ${error}`);
      assert.equal(error.name, "TimeoutError", name);
      assert.match(error.message, /timed out after 30 ms/, name);
      return true;
    });
    // Fast calls are not affected, and the connection goes on.
    assert.equal(await proxy.add(1, 2), 3, name);
  }
  // The late replies are dropped: later calls get their own results.
  t.slow.release();
  assert.equal(await t.remote.hang(), "late");
  assert.equal(await t.local.hang(), "late");
});

Deno.test("withOptions bounds one proxy's calls: timeout, abort, Infinity over the default", async () => {
  await using t = await setUp({ callTimeout: 20 });
  for (const [name, proxy] of proxiesOf(t)) {
    const controller = new AbortController();
    const aborted = withOptions(proxy, { signal: controller.signal }).hang();
    await t.slow.entered.promise;
    controller.abort();
    await assert.rejects(aborted, { name: "AbortError" }, name);
    // An already aborted signal: the call is not made.
    await assert.rejects(
      withOptions(proxy, { signal: AbortSignal.abort() }).add(1, 1),
      { name: "AbortError" },
      name,
    );
    await assert.rejects(
      withOptions(proxy, { timeout: 5 }).hang(),
      { name: "TimeoutError", message: /after 5 ms/ },
      name,
    );
  }
  // Infinity lifts the container's callTimeout for this proxy.
  const remote = withOptions(t.remote, { timeout: Infinity }).hang();
  const local = withOptions(t.local, { timeout: Infinity }).hang();
  t.slow.release();
  assert.deepEqual(await Promise.all([remote, local]), ["late", "late"]);
});

Deno.test("a timeout beyond setTimeout's range (about 24.8 days) is no deadline, locally as remotely", async () => {
  const month = 30 * 24 * 3600 * 1000;
  await using t = await setUp({ callTimeout: month });
  const calls = proxiesOf(t).map(([name, proxy]) =>
    Promise.all([
      proxy.hang(),
      withOptions(proxy, { timeout: month }).hang(),
    ]).then((replies) => [name, replies])
  );
  await t.slow.entered.promise;
  // No event to await: setTimeout fires such delays after about 1 ms, so
  // give it well over that to fail the calls before they are answered.
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.slow.release();
  assert.deepEqual(await Promise.all(calls), [
    ["remote", ["late", "late"]],
    ["local", ["late", "late"]],
  ]);
  // connect's own deadline as well.
  const again = await t.a.connect<Slow>(t.slow.addr, { timeout: month });
  assert.equal(await again.add(1, 2), 3);
});

Deno.test("connect(url, { callTimeout }) bounds the calls of that proxy", async () => {
  await using t = await setUp();
  const remote = await t.a.connect<Slow>(t.slow.addr, { callTimeout: 10 });
  const local = await t.b.connect<Slow>(t.slow.addr, { callTimeout: 10 });
  await assert.rejects(remote.hang(), { name: "TimeoutError" });
  await assert.rejects(local.hang(), { name: "TimeoutError" });
  // A bounded proxy of one's own agent still travels as a reference.
  const back = await local.echo(local) as AgentProxy<Slow>;
  assert.equal(await back.add(2, 3), 5);
  // Bad values are refused.
  await assert.rejects(
    t.a.connect(t.slow.addr, { callTimeout: -1 }),
    RangeError,
  );
  await assert.rejects(
    Container.create(LOCAL, { callTimeout: Number.NaN }),
    RangeError,
  );
});

Deno.test("connect: timeout (ms) bounds the whole connect, signal aborts it", async () => {
  await using a = await Container.create(LOCAL);
  // A server that accepts and never answers validate_aid.
  const listener = Deno.listen(LOCAL);
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    await assert.rejects(
      a.connect(`tcp://127.0.0.1:${port}/0`, { timeout: 50 }),
      {
        name: "TimeoutError",
        message:
          `Connecting to tcp://127.0.0.1:${port}/0 timed out after 50 ms`,
      },
    );
    const controller = new AbortController();
    const connecting = a.connect(`tcp://127.0.0.1:${port}/1`, {
      signal: controller.signal,
    });
    controller.abort();
    await assert.rejects(connecting, { name: "AbortError" });
  } finally {
    listener.close();
    await accepting;
    for (const conn of accepted) conn.close();
  }
});

Deno.test("connect: connects that share a dial bound only their own wait", async () => {
  const dir = await Deno.makeTempDir({ prefix: "aiomas-agent-test-" });
  try {
    const path = `${dir}/later.sock`;
    const url = `ipc://[${path}]/0`;
    await using a = await Container.create(LOCAL);
    // Nobody listens yet: both retry on one shared dial.
    const impatient = a.connect(url, { retry: true, timeout: 20 });
    const controller = new AbortController();
    const aborted = a.connect(url, { retry: true, signal: controller.signal });
    const patient = a.connect<Slow>(url, { retry: true });
    await assert.rejects(impatient, { name: "TimeoutError" });
    controller.abort();
    await assert.rejects(aborted, { name: "AbortError" });
    // The dial goes on for the one still waiting.
    await using b = await Container.create({ path });
    new Slow(b);
    const proxy = await patient;
    assert.equal(await proxy.add(1, 2), 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a remote handler's callContext().signal aborts when its caller's container shuts down", async () => {
  await using t = await setUp();
  const call = t.remote.work();
  const outcome = assert.rejects(call, ConnectionClosedError);
  await t.slow.entered.promise;
  await t.a.shutdown();
  await outcome;
  assert.equal(
    (await t.slow.stopped.promise as Error).name,
    "ConnectionClosedError",
  );
});

Deno.test("a handler's signal aborts when its own container shuts down: remote and local callers", async () => {
  {
    await using t = await setUp();
    const call = t.remote.work();
    await t.slow.entered.promise;
    const shutdown = t.b.shutdown();
    assert.equal(
      (await t.slow.stopped.promise as Error).name,
      "ConnectionClosedError",
    );
    // The handler ended at once, so its answer still went out.
    assert.equal(await call, "stopped");
    await shutdown;
  }
  {
    await using t = await setUp();
    const call = t.local.work();
    const outcome = assert.rejects(call, {
      name: "ConnectionClosedError",
      message: `Container ${t.b.addr} is shut down`,
    });
    await t.slow.entered.promise;
    await t.b.shutdown();
    await outcome;
    assert.equal(
      (await t.slow.stopped.promise as Error).name,
      "ConnectionClosedError",
    );
  }
});

Deno.test("local calls in flight reject when the container shuts down, as remote ones do", async () => {
  await using t = await setUp();
  const local = t.local.hang();
  const remote = t.remote.hang();
  const outcomes = Promise.all([
    assert.rejects(local, ConnectionClosedError),
    assert.rejects(remote, ConnectionClosedError),
  ]);
  await t.slow.entered.promise;
  await t.a.shutdown();
  await t.b.shutdown();
  await outcomes;
});

Deno.test("a timeout of 0 runs nothing, locally as remotely", async () => {
  await using own = await Container.create(LOCAL);
  await using other = await Container.create(LOCAL);
  let ran = 0;
  class Counted extends Agent {
    @expose
    ping(): string {
      ran++;
      return "pong";
    }
  }
  const agent = new Counted(own);
  for (const container of [own, other]) {
    const proxy = withOptions(await container.connect<Counted>(agent.addr), {
      timeout: 0,
    });
    await assert.rejects(proxy.ping(), {
      name: "TimeoutError",
      message: /timed out after 0 ms$/,
    });
  }
  assert.equal(ran, 0);
});
