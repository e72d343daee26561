import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  Container,
  type DynamicRemote,
  ExternalClock,
  Manager,
} from "../../agent/mod.ts";
import { JsonCodec } from "../../codecs/mod.ts";
import { ConnectionClosedError, RemoteError } from "../../errors.ts";
import { Echo, Sleeper } from "../fixtures/agents/agents.ts";
import { frame, FrameReader, writeAll } from "./_wire.ts";

const LOCAL = { hostname: "127.0.0.1", port: 0 };
const AGENTS_URL = new URL("../fixtures/agents/agents.ts", import.meta.url);
const spec = (name: string) => `${AGENTS_URL.href}#${name}`;
const START = "2016-01-01T00:00:00+00:00";

class Point {
  constructor(public x: number, public y: number) {}
}

function portOf(addr: string): number {
  const match = /^tcp:\/\/127\.0\.0\.1:(\d+)\/$/.exec(addr);
  assert.ok(match, `not a TCP container address: ${addr}`);
  return Number(match[1]);
}

/** Calls `spawn` through a manager proxy; the agent arrives as a proxy. */
async function spawn(
  manager: { spawn(spec: string, ...args: unknown[]): Promise<unknown> },
  spec: string,
  ...args: unknown[]
): Promise<[DynamicRemote, string]> {
  return await manager.spawn(spec, ...args) as [DynamicRemote, string];
}

/** A matcher for `assert.rejects`: a RemoteError `name: message…`. */
const remote = (name: string, message: RegExp) => (error: unknown) => {
  assert.ok(error instanceof RemoteError, String(error));
  assert.equal(error.remoteName, name, error.message);
  assert.match(error.remoteMessage, message);
  return true;
};

/** A managed container and a master container connected to its manager. */
async function managed(
  options: {
    clock?: ExternalClock;
    base?: string;
    allowSpawn?: readonly string[];
  } = {},
) {
  const stopped = Promise.withResolvers<void>();
  const container = await Container.create(LOCAL, { clock: options.clock });
  const manager = new Manager(container, {
    base: options.base,
    allowSpawn: options.allowSpawn,
    onStop: stopped.resolve,
  });
  const master = await Container.create(LOCAL);
  const proxy = await master.connect<Manager>(manager.addr);
  return {
    container,
    manager,
    master,
    proxy,
    stopped: stopped.promise,
    async [Symbol.asyncDispose]() {
      await master.shutdown();
      await container.shutdown();
    },
  };
}

Deno.test("Manager is agent 0 and prints like an agent", async () => {
  await using container = await Container.create("local://manager-print");
  const manager = new Manager(container);
  assert.equal(manager.aid, "0");
  assert.equal(String(manager), "Manager('local://manager-print/0')");
});

Deno.test("Manager.spawn creates an agent from '<module URL>#<Export>' with its arguments", async () => {
  await using m = await managed();
  const [agent, addr] = await spawn(m.proxy, spec("Echo"), "hi:");
  assert.equal(addr, `${m.container.addr}1`);
  // The reference arrives as a proxy of that agent, on the same connection.
  assert.equal(String(agent), `AgentProxy('${m.container.addr}1')`);
  assert.equal(await agent.echo(42), "hi:42");
  const spawned = m.container.agents.get("1");
  assert.ok(spawned instanceof Echo);
  assert.equal(spawned.prefix, "hi:");
  // Ids go on; the address is an ordinary agent address.
  const [, second] = await spawn(m.proxy, spec("Echo"));
  assert.equal(second, `${m.container.addr}2`);
  const byAddr = await m.master.connect<Echo>(second);
  assert.equal(String(byAddr), `EchoProxy('${second}')`);
  assert.equal(await byAddr.echo("x"), "x");
});

Deno.test("Manager.spawn called in its own container returns a local proxy", async () => {
  await using container = await Container.create("local://manager-self");
  const manager = new Manager(container);
  const proxy = await container.connect<Manager>(manager.addr);
  const [agent, addr] = await spawn(proxy, spec("Echo"), ">");
  assert.equal(addr, "local://manager-self/1");
  assert.equal(String(agent), "EchoProxy('local://manager-self/1')");
  assert.equal(await agent.echo(1), ">1");
});

for (
  const [label, serializers, refTypeid] of [
    ["no extra serializers", [], 1],
    ["one extra serializer", [
      [
        Point,
        (p: Point) => [p.x, p.y],
        (d: unknown) => new Point(...(d as [number, number])),
      ] as const,
    ], 2],
  ] as const
) {
  Deno.test(`Manager.spawn replies [agent reference, address] on the wire (${label})`, async () => {
    await using container = await Container.create(LOCAL, { serializers });
    new Manager(container);
    const port = portOf(container.addr);
    // Play a Python master by hand.
    using conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const reader = new FrameReader(conn);
    const codec = new JsonCodec();
    await writeAll(
      conn,
      frame(
        await codec.encode([0, 0, ["agents/0/spawn", [spec("Echo"), "p"], {}]]),
      ),
    );
    const reply = new TextDecoder().decode((await reader.read())!);
    // aiomas's Manager answers `[1, id, [{"__type__": [1, "agents/1"]}, addr]]`;
    // the reference's typeid comes after the date serializer and the extras.
    assert.equal(
      reply,
      `[1,0,[{"__type__":[${refTypeid},"agents/1"]},"tcp://127.0.0.1:${port}/1"]]`,
    );
    // The reference is callable at its path on this connection.
    await writeAll(
      conn,
      frame(await codec.encode([0, 1, ["agents/1/echo", [7], {}]])),
    );
    assert.deepEqual(
      await codec.decode((await reader.read())!),
      [1, 1, "p7"],
    );
  });
}

Deno.test("Manager.spawn resolves relative modules from its base, by default the working directory", async () => {
  {
    await using m = await managed({
      base: new URL("../fixtures/agents/", import.meta.url).href,
    });
    const [agent] = await spawn(m.proxy, "./agents.ts#Echo", "b:");
    assert.equal(await agent.echo(1), "b:1");
  }
  {
    await using m = await managed();
    const fromCwd = relative(Deno.cwd(), fileURLToPath(AGENTS_URL));
    const [agent] = await spawn(m.proxy, `${fromCwd}#Echo`, "c:");
    assert.equal(await agent.echo(1), "c:1");
  }
});

Deno.test("Manager.spawn with a bad spec answers with a clear error and keeps working", async () => {
  await using m = await managed();
  const missing = new URL("./no_such_module.ts", AGENTS_URL).href;
  for (
    const [bad, name, message] of [
      [
        AGENTS_URL.href,
        "TypeError",
        /Invalid agent spec .*"<module>#<ExportName>"/,
      ],
      [`${AGENTS_URL.href}#`, "TypeError", /Invalid agent spec/],
      ["#Echo", "TypeError", /Invalid agent spec/],
      [42, "TypeError", /Invalid agent spec 42/],
      [spec("Nope"), "TypeError", /has no export "Nope"/],
      [spec("NotAnAgent"), "TypeError", /"NotAnAgent" is not an Agent class/],
      [spec("notAClass"), "TypeError", /"notAClass" is not an Agent class/],
      [`${missing}#Echo`, "TypeError", /Module not found/],
      // The constructor's own error.
      [spec("Broken"), "RangeError", /^Broken cannot be built$/],
    ] as const
  ) {
    await assert.rejects(spawn(m.proxy, bad as string), remote(name, message));
  }
  const [agent] = await spawn(m.proxy, spec("Echo"), "ok:");
  assert.equal(await agent.echo(1), "ok:1");
});

Deno.test("Manager.set_time advances an ExternalClock and wakes the sleepers", async () => {
  const clock = new ExternalClock(START);
  await using m = await managed({ clock });
  const [sleeper] = await spawn(m.proxy, spec("Sleeper"));
  // Both sleeps are registered before set_time runs: one connection
  // delivers requests in order and each handler starts at once.
  const early = sleeper.sleep(1);
  const late = sleeper.sleep(3);
  assert.equal(await m.proxy.set_time(2), null);
  assert.deepEqual(await early, [2, "2016-01-01T00:00:02.000Z"]);
  assert.equal(clock.time(), 2);
  assert.equal(clock.nextActivity(), 3);
  await m.proxy.set_time(3.5);
  assert.deepEqual(await late, [3.5, "2016-01-01T00:00:03.500Z"]);
  assert.equal(await sleeper.time(), 3.5);
  assert.ok(m.container.agents.get("1") instanceof Sleeper);
});

Deno.test("Manager.set_time refuses the past and a realtime clock", async () => {
  {
    const clock = new ExternalClock(START);
    await using m = await managed({ clock });
    await m.proxy.set_time(5);
    await assert.rejects(m.proxy.set_time(5), remote("RangeError", /later/));
    await assert.rejects(m.proxy.set_time(1), remote("RangeError", /later/));
    // A peer's non-number would be compared and added as text.
    for (const time of ["soon", "7", [7], null]) {
      await assert.rejects(
        m.proxy.set_time(time as unknown as number),
        remote("TypeError", /^Cannot set time to .* not a number$/),
      );
    }
    assert.equal(clock.time(), 5);
  }
  {
    await using m = await managed();
    await assert.rejects(
      m.proxy.set_time(5),
      remote("TypeError", /not an ExternalClock/),
    );
  }
});

Deno.test("Manager.stop twice shuts down and calls onStop once", async () => {
  let stops = 0;
  const stopped = Promise.withResolvers<void>();
  const container = await Container.create(LOCAL);
  const manager = new Manager(container, {
    onStop: () => {
      stops++;
      stopped.resolve();
    },
  });
  manager.stop();
  manager.stop();
  await stopped.promise;
  // A second run would call onStop right after the first one's shutdown.
  await container.shutdown();
  await container.shutdown();
  assert.equal(stops, 1);
});

Deno.test("Manager.stop answers, then shuts the container down and calls onStop", async () => {
  await using m = await managed();
  const [agent] = await spawn(m.proxy, spec("Echo"));
  assert.equal(await m.proxy.stop(), null);
  await m.stopped;
  // Shut down: no new agents, no connects, the port is closed.
  assert.throws(() => new Echo(m.container), ConnectionClosedError);
  await assert.rejects(
    m.container.connect(m.manager.addr),
    ConnectionClosedError,
  );
  await assert.rejects(agent.echo(1), ConnectionClosedError);
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port: portOf(m.container.addr) }),
    Deno.errors.ConnectionRefused,
  );
});

/** A matcher for a spawn the allow-list refused, naming the rule and the way to widen it. */
const refused = (href: string) => (error: unknown) => {
  remote("NotCapable", /^Manager refuses to spawn /)(error);
  const message = (error as RemoteError).remoteMessage;
  assert.ok(message.includes(JSON.stringify(href)), message);
  assert.match(message, /allowSpawn prefix/);
  assert.match(
    message,
    /ManagerOptions\.allowSpawn or cli\.ts --allow-spawn <prefix>/,
  );
  return true;
};

/** Flags that modules in these tests set on `globalThis` when they run. */
const ran = globalThis as { [flag: string]: unknown };

/**
 * A temporary directory outside the working directory with:
 * `agents/ok.ts` (exports Echo), `agents/probe.ts` and `agentsEVIL/probe.ts`
 * (which set `globalThis[flag]` when they run).
 */
async function tempModules(flag: string) {
  const dir = await Deno.makeTempDir({ prefix: "aiomas-manager-" });
  const probe = `globalThis[${JSON.stringify(flag)}] = import.meta.url;\n` +
    `export { Echo } from ${JSON.stringify(AGENTS_URL.href)};\n`;
  await Deno.mkdir(join(dir, "agents"));
  await Deno.mkdir(join(dir, "agentsEVIL"));
  await Deno.writeTextFile(join(dir, "agents", "probe.ts"), probe);
  await Deno.writeTextFile(join(dir, "agentsEVIL", "probe.ts"), probe);
  await Deno.writeTextFile(
    join(dir, "agents", "ok.ts"),
    `export { Echo } from ${JSON.stringify(AGENTS_URL.href)};\n`,
  );
  return {
    dir,
    url: (path: string) => pathToFileURL(join(dir, path)).href,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("Manager.spawn refuses a data: module before importing it, by default", async () => {
  await using m = await managed();
  const flag = "__aiomasManagerDataRan";
  const data = `data:application/javascript,globalThis.${flag}=1;` +
    `export class Evil {}`;
  await assert.rejects(spawn(m.proxy, `${data}#Evil`), refused(data));
  assert.equal(ran[flag], undefined, "the data: module ran");
  // The manager goes on serving allowed spawns.
  const [agent] = await spawn(m.proxy, spec("Echo"), "ok:");
  assert.equal(await agent.echo(1), "ok:1");
});

Deno.test("Manager.spawn refuses blob:, http:, https:, npm: and jsr: modules by default", async () => {
  await using m = await managed();
  for (
    const module of [
      "blob:null/4f4a0e8a-0000-4000-8000-000000000000",
      // Nothing listens there: a fetch would fail differently.
      "http://127.0.0.1:9/agents.ts",
      "https://example.com/agents.ts",
      "npm:left-pad@1.3.0",
      "jsr:@std/assert@1",
    ]
  ) {
    await assert.rejects(
      spawn(m.proxy, `${module}#Echo`),
      refused(new URL(module).href),
    );
  }
});

Deno.test("Manager.spawn by default allows file: modules under the working directory only", async () => {
  await using tmp = await tempModules("__aiomasManagerOutsideRan");
  await using m = await managed();
  assert.deepEqual(m.manager.allowSpawn, [
    pathToFileURL(`${Deno.cwd()}/`).href,
  ]);
  // Under the working directory (the fixtures are): allowed.
  assert.ok(AGENTS_URL.href.startsWith(m.manager.allowSpawn[0]));
  const [agent] = await spawn(m.proxy, spec("Echo"), "in:");
  assert.equal(await agent.echo(1), "in:1");
  // A file outside it: refused, and it never ran.
  const outside = tmp.url("agents/probe.ts");
  await assert.rejects(spawn(m.proxy, `${outside}#Echo`), refused(outside));
  assert.equal(ran.__aiomasManagerOutsideRan, undefined);
});

Deno.test("Manager.spawn: '..' cannot escape an allowed prefix, encoded or not", async () => {
  await using tmp = await tempModules("__aiomasManagerEscapeRan");
  await using m = await managed({
    base: tmp.url("agents/"),
    allowSpawn: [tmp.url("agents/")],
  });
  // Every one of these names agentsEVIL/probe.ts, or tries to.
  for (
    const [module, href] of [
      // Relative to base: resolved before the check.
      ["../agentsEVIL/probe.ts", tmp.url("agentsEVIL/probe.ts")],
      [
        `${tmp.url("agents/")}../agentsEVIL/probe.ts`,
        tmp.url("agentsEVIL/probe.ts"),
      ],
      [
        `${tmp.url("agents/")}%2e%2e/agentsEVIL/probe.ts`,
        tmp.url("agentsEVIL/probe.ts"),
      ],
      // Deno's loader decodes %2F into a separator after the URL has
      // resolved "..", so this would open agentsEVIL/probe.ts.
      [
        `${tmp.url("agents/")}..%2FagentsEVIL%2Fprobe.ts`,
        `${tmp.url("agents/")}..%2FagentsEVIL%2Fprobe.ts`,
      ],
      [
        `${tmp.url("agents/")}..%5CagentsEVIL%5Cprobe.ts`,
        `${tmp.url("agents/")}..%5CagentsEVIL%5Cprobe.ts`,
      ],
      // Up and out of the temporary directory altogether.
      ["../../../../../../../etc/hosts", "file:///etc/hosts"],
    ]
  ) {
    await assert.rejects(spawn(m.proxy, `${module}#Echo`), refused(href));
  }
  assert.equal(ran.__aiomasManagerEscapeRan, undefined);
  // The prefix itself still works.
  const [agent] = await spawn(m.proxy, "./ok.ts#Echo", "ok:");
  assert.equal(await agent.echo(1), "ok:1");
});

Deno.test("Manager.spawn: a prefix without a trailing slash matches whole path segments only", async () => {
  await using tmp = await tempModules("__aiomasManagerBoundaryRan");
  // "…/agents" must not allow "…/agentsEVIL/".
  await using m = await managed({ allowSpawn: [tmp.url("agents")] });
  assert.deepEqual(m.manager.allowSpawn, [tmp.url("agents")]);
  const evil = tmp.url("agentsEVIL/probe.ts");
  await assert.rejects(spawn(m.proxy, `${evil}#Echo`), refused(evil));
  assert.equal(ran.__aiomasManagerBoundaryRan, undefined);
  const [agent] = await spawn(
    m.proxy,
    `${tmp.url("agents/ok.ts")}#Echo`,
    "ok:",
  );
  assert.equal(await agent.echo(1), "ok:1");
});

Deno.test("Manager.spawn: allowSpawn replaces the default and can allow data:", async () => {
  await using tmp = await tempModules("__aiomasManagerAllowedRan");
  await using m = await managed({
    // Relative prefixes resolve against base, like specs.
    base: `${tmp.url("")}/`,
    allowSpawn: ["./agents/", "data:"],
  });
  assert.deepEqual(m.manager.allowSpawn, [tmp.url("agents/"), "data:"]);
  // Outside the working directory but allowed.
  const [agent] = await spawn(m.proxy, "agents/probe.ts#Echo", "out:");
  assert.equal(await agent.echo(1), "out:1");
  assert.equal(ran.__aiomasManagerAllowedRan, tmp.url("agents/probe.ts"));
  // The default is gone: the fixtures under the working directory are refused.
  await assert.rejects(spawn(m.proxy, spec("Echo")), refused(AGENTS_URL.href));
  // data: is allowed now: the module runs (and has no Agent export).
  const flag = "__aiomasManagerDataAllowed";
  const data = `data:application/javascript,globalThis.${flag}=1;`;
  await assert.rejects(
    spawn(m.proxy, `${data}#Echo`),
    remote("TypeError", /has no export "Echo"/),
  );
  assert.equal(ran[flag], 1);
});

Deno.test("Manager: an empty allowSpawn refuses everything; a bad prefix is a TypeError", async () => {
  {
    await using m = await managed({ allowSpawn: [] });
    await assert.rejects(
      spawn(m.proxy, spec("Echo")),
      remote("NotCapable", /the allow-list is empty/),
    );
  }
  await using container = await Container.create("local://manager-bad-prefix");
  assert.throws(
    () => new Manager(container, { allowSpawn: ["http://[::1"] }),
    (error: unknown) =>
      error instanceof TypeError &&
      /Invalid allowSpawn prefix "http:\/\/\[::1": not a URL/.test(
        error.message,
      ),
  );
  assert.throws(
    () => new Manager(container, { allowSpawn: ["file://elsewhere/srv/"] }),
    /Invalid allowSpawn prefix .*not a local file path/,
  );
});
