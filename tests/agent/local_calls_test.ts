// Calls between agents of one container give what the same call gives
// across a connection, with each codec: the same values or the same errors.
import assert from "node:assert/strict";
import { Agent, type AgentProxy, Container } from "../../agent/mod.ts";
import {
  type CodecClass,
  Float64,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
  serializable,
} from "../../codecs/mod.ts";
import { ConnectionClosedError, RemoteError } from "../../errors.ts";
import { callContext, expose, withOptions } from "../../rpc/mod.ts";
import { within } from "../_within.ts";
import { SpanKind, SpanStatusCode } from "npm:@opentelemetry/api@^1.9.0";
import { Recorder } from "../_telemetry.ts";

const LOCAL = { hostname: "127.0.0.1", port: 0 };

class Pt {
  constructor(public x: number, public y: number) {}
}

class Unregistered {
  a = 1;
}

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** The values of the table, by name: made anew for every call. */
const VALUES: Record<string, () => unknown> = {
  "Map, string keys": () => new Map([["a", 1], ["b", 2]]),
  "Map, number keys": () => new Map([[1, "one"], [2, "two"]]),
  "Map, object key": () => new Map([[{}, 1]]),
  "bytes": () => new Uint8Array([0, 1, 255]),
  "bigint 2n**70n": () => 2n ** 70n,
  "bigint 2n**40n": () => 2n ** 40n,
  "number 2**60": () => 2 ** 60,
  "number 2**53": () => 2 ** 53,
  "number 2**53 - 1": () => 2 ** 53 - 1,
  "number -(2**53) - 2": () => -(2 ** 53) - 2,
  "number 1e21": () => 1e21,
  "number 0.1": () => 0.1,
  "number 1e-300": () => 1e-300,
  "true": () => true,
  "null": () => null,
  "ASCII string": () => "plain text",
  "control characters": () => 'a\u0000\n"\\b',
  "non-ASCII string": () => "grüße, 世界 😀",
  "long string with a lone surrogate": () => "x".repeat(100) + "\udc00",
  "short args with a lone surrogate": () => ["\ud800"],
  "undefined": () => undefined,
  "undefined in an array": () => [undefined, 1],
  "undefined in an object": () => ({ a: undefined, b: 1 }),
  "NaN": () => NaN,
  "Infinity": () => -Infinity,
  "-0": () => -0,
  "Float64(1)": () => new Float64(1),
  "Date": () => new Date("2016-01-01T00:00:02.5Z"),
  "invalid Date": () => new Date(NaN),
  "class instance": () => new Unregistered(),
  "serializer type": () => new Pt(1, 2),
  "serializer type in a map": () => ({ at: [new Pt(3, 4)] }),
  "lone surrogate": () => "a\ud800b",
  "object with __type__ key": () => ({ __type__: [0, "2016-01-01"] }),
  "null prototype object": () => Object.assign(Object.create(null), { k: 1 }),
  "function": () => () => 1,
  "symbol": () => Symbol("s"),
  "nested 125 deep": () => nested(125),
  "nested 126 deep": () => nested(126),
  "nested 127 deep": () => nested(127),
};

class Callee extends Agent {
  @expose
  echo(value: unknown): unknown {
    return value;
  }

  /** A value made on the callee's side: the result path alone. */
  @expose
  make(name: string): unknown {
    return VALUES[name]();
  }

  @expose({ params: ["a", "b"] })
  pair(a: unknown, b: unknown = "default"): unknown[] {
    return [a, b];
  }
}

type Outcome =
  | { value: unknown }
  | { error: string; message: string; remote?: [string, string] };

async function outcome(call: Promise<unknown>): Promise<Outcome> {
  try {
    return { value: await call };
  } catch (error) {
    assert.ok(error instanceof Error, String(error));
    return {
      error: error.name,
      // The origin names the container that raised it: not compared.
      message: error.message.replace(/ \(raised by [^)]*\)$/, ""),
      remote: error instanceof RemoteError
        ? [error.remoteName, error.remoteMessage]
        : undefined,
    };
  }
}

const CODECS: [string, CodecClass][] = [
  ["JSON", JsonCodec],
  ["MsgPack", MsgPackCodec],
  ["MsgPackBlosc", MsgPackBloscCodec],
];

for (const [codecName, codec] of CODECS) {
  Deno.test(`Local calls give what remote calls give: ${codecName}`, async () => {
    const options = { codec, serializers: [serializable(Pt, ["x", "y"])] };
    await using a = await Container.create(LOCAL, options);
    await using b = await Container.create(LOCAL, options);
    const callee = new Callee(b);
    const remote: AgentProxy<Callee> = await a.connect<Callee>(callee.addr);
    const local: AgentProxy<Callee> = await b.connect<Callee>(callee.addr);
    const mismatches: string[] = [];
    for (const name of Object.keys(VALUES)) {
      for (const direction of ["argument", "result"] as const) {
        const call = (proxy: AgentProxy<Callee>) =>
          direction === "argument"
            ? proxy.echo(VALUES[name]())
            : proxy.make(name);
        const there = await outcome(call(remote));
        const here = await outcome(call(local));
        try {
          assert.deepStrictEqual(here, there);
        } catch {
          mismatches.push(
            `${name} as ${direction}: local ${Deno.inspect(here)}, remote ${
              Deno.inspect(there)
            }`,
          );
        }
      }
    }
    assert.deepEqual(mismatches, []);
  });
}

Deno.test("Local calls: the codec decides, e.g. a Map is an object with JSON", async () => {
  await using json = await Container.create(LOCAL);
  const callee = new Callee(json);
  const proxy = await json.connect<Callee>(callee.addr);
  assert.deepStrictEqual(
    await proxy.echo(new Map([["a", 1]])),
    { a: 1 },
  );
  await assert.rejects(proxy.echo(new Uint8Array(1)), {
    name: "SerializationError",
    message:
      "Cannot encode bytes as JSON (use MsgPackCodec, or add a serializer for Uint8Array)",
  });
  await using msgpack = await Container.create(LOCAL, { codec: MsgPackCodec });
  const other = new Callee(msgpack);
  const proxy2 = await msgpack.connect<Callee>(other.addr);
  await assert.rejects(proxy2.echo(2n ** 70n), { name: "SerializationError" });
  assert.deepStrictEqual(
    await proxy2.echo(new Uint8Array([1, 2])),
    new Uint8Array([1, 2]),
  );
});

Deno.test("Local calls: a proxy of another container's agent is refused, as remotely", async () => {
  await using a = await Container.create(LOCAL);
  await using b = await Container.create(LOCAL);
  const there = new Callee(b);
  const here = new Callee(a);
  const remoteProxy = await a.connect<Callee>(there.addr);
  const localProxy = await a.connect<Callee>(here.addr);
  await assert.rejects(
    localProxy.echo(remoteProxy),
    { name: "SerializationError", message: /only works on its own connection/ },
  );
  // One's own agents travel as references.
  const back = await localProxy.echo(here) as AgentProxy<Callee>;
  assert.equal(await back.echo(5), 5);
});

Deno.test("Local calls: argument counts are checked as remotely (declared params)", async () => {
  await using a = await Container.create(LOCAL);
  await using b = await Container.create(LOCAL);
  const callee = new Callee(b);
  const remote = await a.connect(callee.addr) as unknown as Record<
    string,
    (...args: unknown[]) => Promise<unknown>
  >;
  const local = await b.connect(callee.addr) as unknown as typeof remote;
  for (const args of [[1], [1, 2], [1, 2, 3]]) {
    const there = await outcome(remote.pair(...args));
    const here = await outcome(local.pair(...args));
    assert.deepStrictEqual(here, there, `pair(${args})`);
  }
  assert.deepStrictEqual(await outcome(local.pair(1, 2, 3)), {
    error: "RemoteError",
    message:
      "TypeError: Callee.pair() takes at most 2 positional arguments but 3 were given",
    remote: [
      "TypeError",
      "Callee.pair() takes at most 2 positional arguments but 3 were given",
    ],
  });
});

class Aware extends Agent {
  @expose({ context: true, params: ["a"] })
  pair(a: unknown): unknown[] {
    return [a, callContext().signal.aborted];
  }
}

Deno.test("Argument errors name the method also when it reads its context or the container traces", async (t) => {
  for (const traced of [false, true]) {
    await t.step(traced ? "traced" : "not traced", async () => {
      await using recorder = new Recorder();
      const options = traced ? { telemetry: recorder.options } : {};
      await using a = await Container.create(LOCAL, options);
      await using b = await Container.create(LOCAL, options);
      const callee = new Aware(b);
      const remote = await a.connect(callee.addr) as unknown as Record<
        string,
        (...args: unknown[]) => Promise<unknown>
      >;
      const local = await b.connect(callee.addr) as unknown as typeof remote;
      for (const proxy of [remote, local]) {
        assert.deepStrictEqual(await proxy.pair(1), [1, false]);
        await assert.rejects(proxy.pair(1, 2), {
          name: "RemoteError",
          message:
            /^TypeError: Aware\.pair\(\) takes at most 1 positional argument but 2 were given/,
        });
      }
    });
  }
});

/** Hands a countdown to its partner until it reaches 0. */
interface HopProxy {
  hop(left: number): Promise<number>;
  note(what: string): Promise<void>;
}

class Hop extends Agent {
  partner: HopProxy | undefined;
  order: string[] = [];

  @expose
  async hop(left: number): Promise<number> {
    return left === 0 ? 0 : await this.partner!.hop(left - 1);
  }

  @expose
  note(what: string): void {
    this.order.push(what);
  }
}

Deno.test("Local calls: the callee runs a turn later, as across a connection: code after the call runs first, and calls back and forth do not grow one stack", async () => {
  await using container = await Container.create("local://hops");
  const [a, b] = [new Hop(container), new Hop(container)];
  a.partner = await container.connect(b.addr) as unknown as HopProxy;
  b.partner = await container.connect(a.addr) as unknown as HopProxy;
  const call = a.partner.note("callee");
  b.order.push("after the call");
  await call;
  assert.deepEqual(b.order, ["after the call", "callee"]);
  // 20 000 hops: one stack would overflow (about 1 500 did).
  assert.equal(await a.partner.hop(20_000), 0);
});

Deno.test("Local calls: a shutdown or an abort in the turn of the call stops it before the callee runs, as a send is refused or given up", async () => {
  for (const how of ["shutdown", "abort"] as const) {
    const container = await Container.create(`local://turn-${how}`);
    const [a, b] = [new Hop(container), new Hop(container)];
    a.partner = await container.connect(b.addr) as unknown as HopProxy;
    const giveUp = new AbortController();
    const proxy = how === "abort"
      ? withOptions(a.partner, { signal: giveUp.signal })
      : a.partner;
    const call = proxy.note("callee");
    const down = how === "shutdown" ? container.shutdown() : undefined;
    giveUp.abort();
    await assert.rejects(
      within(5000, `the call (${how})`, call),
      how === "shutdown" ? ConnectionClosedError : { name: "AbortError" },
    );
    assert.deepEqual(b.order, [], `the callee ran (${how})`);
    await (down ?? container.shutdown());
  }
});

class SelfStopping extends Agent {
  giveUp = new AbortController();

  // Answered (its promise fulfilled) before its caller sees the abort.
  @expose
  // deno-lint-ignore require-await
  async abortMine(): Promise<string> {
    this.giveUp.abort();
    return "answered";
  }

  // Answered at once, having aborted its call or shut its container down.
  @expose
  abortMineNow(): string {
    this.giveUp.abort();
    return "answered";
  }

  @expose
  shutDownNow(): string {
    this.container.shutdown();
    return "answered";
  }
}

Deno.test("Local calls: a sync handler that aborts its call or shuts its container down is given up, as across a connection", async () => {
  for (const traced of [false, true]) {
    await using recorder = new Recorder();
    const telemetry = traced ? { telemetry: recorder.options } : {};
    const container = await Container.create(
      `local://self-stopping-now-${traced}`,
      telemetry,
    );
    const agent = new SelfStopping(container);
    const proxy = await container.connect(agent.addr) as unknown as {
      abortMineNow(): Promise<string>;
      shutDownNow(): Promise<string>;
    };
    await assert.rejects(
      withOptions(proxy, { signal: agent.giveUp.signal }).abortMineNow(),
      { name: "AbortError" },
    );
    await assert.rejects(proxy.shutDownNow(), ConnectionClosedError);
    await container.shutdown();
    if (!traced) continue;
    // Each ends its server span, failed as its caller saw it.
    const servers = (await recorder.spans())
      .filter((span) => span.kind === SpanKind.SERVER)
      .map((span) => `${span.name.split("/").at(-1)} ${span.status.code}`)
      .sort();
    assert.deepEqual(servers, [
      `abortMineNow ${SpanStatusCode.ERROR}`,
      `shutDownNow ${SpanStatusCode.ERROR}`,
    ]);
  }
});

Deno.test("Local calls: a traced call whose async handler aborts it still ends its server span", async () => {
  await using recorder = new Recorder();
  await using container = await Container.create("local://self-stopping", {
    telemetry: recorder.options,
  });
  const agent = new SelfStopping(container);
  const proxy = await container.connect(agent.addr) as unknown as {
    abortMine(): Promise<string>;
  };
  await assert.rejects(
    withOptions(proxy, { signal: agent.giveUp.signal }).abortMine(),
    { name: "AbortError" },
  );
  const kinds = (await recorder.spans())
    .filter((span) => span.name.endsWith("abortMine"))
    .map((span) => span.kind === SpanKind.SERVER ? "server" : "client")
    .sort();
  assert.deepEqual(kinds, ["client", "server"]);
});
