// Manager.spawn's allow-list (ManagerOptions.allowSpawn): which modules it
// refuses before importing them, and how prefixes match and are checked.
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Container, loadAgentClass, Manager } from "../../agent/mod.ts";
import type { RemoteError } from "../../errors.ts";
import {
  AGENTS_URL,
  managed,
  remote,
  spawn,
  spec,
} from "./_manager_fixtures.ts";

/** A matcher for a spawn the allow-list refused, naming the rule and the way to widen it. */
const refused = (href: string) => (error: unknown) => {
  remote("NotCapable", /^Manager refuses to spawn /)(error);
  const message = (error as RemoteError).remoteMessage;
  assert.ok(message.includes(JSON.stringify(href)), message);
  assert.match(message, /allowSpawn prefix/);
  assert.match(
    message,
    /the allowSpawn option \(ManagerOptions, startContainerWorker, startContainerProcess\) or cli\.ts --allow-spawn <prefix>$/,
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

Deno.test("base may be a directory's path, with or without its slash: relative specs and prefixes resolve from it", async () => {
  const directory = fileURLToPath(
    new URL("../fixtures/agents/", import.meta.url),
  );
  for (const base of [directory, directory.slice(0, -1)]) {
    await using m = await managed({ base, allowSpawn: ["./"] });
    assert.deepEqual(m.manager.allowSpawn, [pathToFileURL(directory).href]);
    const [echo] = await spawn(m.proxy, "./agents.ts#Echo", "> ");
    assert.equal(await echo.echo("hi"), "> hi");
  }
});

Deno.test("Manager.spawn: a module with a query is refused unless a prefix has a query (each one is a module kept for good)", async () => {
  await using tmp = await tempModules("__aiomasManagerQueryRan");
  const probe = tmp.url("agents/probe.ts");
  {
    await using m = await managed({ allowSpawn: [tmp.url("agents/")] });
    for (const query of ["?1", "?2"]) {
      await assert.rejects(
        spawn(m.proxy, `${probe}${query}#Echo`),
        (error: unknown) => {
          refused(`${probe}${query}`)(error);
          assert.match(
            (error as RemoteError).remoteMessage,
            /a query string imports the module once more for each value/,
          );
          return true;
        },
      );
    }
    assert.equal(ran.__aiomasManagerQueryRan, undefined);
    // Without the query it is allowed.
    const [agent] = await spawn(m.proxy, `${probe}#Echo`, "p:");
    assert.equal(await agent.echo(1), "p:1");
  }
  // A prefix that spells the query allows it.
  await using m = await managed({ allowSpawn: [`${probe}?v=1`] });
  const [agent] = await spawn(m.proxy, `${probe}?v=1#Echo`, "q:");
  assert.equal(await agent.echo(2), "q:2");
  await assert.rejects(
    spawn(m.proxy, `${probe}?v=2#Echo`),
    refused(`${probe}?v=2`),
  );
});

Deno.test("Manager.spawn: an allowed file: module that does not exist is refused without importing it (Deno keeps every failed import)", async () => {
  await using tmp = await tempModules("__aiomasManagerMissingRan");
  await using m = await managed({ allowSpawn: [tmp.url("agents/")] });
  for (const path of ["agents/missing.ts", "agents/"]) {
    const href = tmp.url(path);
    await assert.rejects(
      spawn(m.proxy, `${href}#Echo`),
      remote(
        "TypeError",
        new RegExp(`there is no module file at "${RegExp.escape(href)}"`),
      ),
    );
  }
  // An existing one is still spawned.
  const [agent] = await spawn(m.proxy, `${tmp.url("agents/ok.ts")}#Echo`, "t:");
  assert.equal(await agent.echo(2), "t:2");
});

Deno.test("loadAgentClass without read permission still loads a module the program has imported (the check for a missing file cannot look, and leaves it to the import), and imports at most 64 modules it could not check, at once or failed", async () => {
  const script = new URL("./_load_without_read.ts", import.meta.url);
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--no-config", fileURLToPath(script)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.deepEqual(text.trim().split("\n"), [
    "loaded Echo",
    // One module, however often at once, counts once.
    "100 × failed: no read access",
    // A burst of others cannot pass the 64 (one is that one).
    "63 × failed: no read access, 137 × refused: 64 unchecked",
    "loaded Echo",
  ]);
});

Deno.test("Manager.spawn refuses a Manager or a subclass, even under an allowed prefix: the caller would choose its allowSpawn", async () => {
  await using tmp = await tempModules("__aiomasManagerSubRan");
  const library = new URL("../../mod.ts", import.meta.url).href;
  await Deno.writeTextFile(
    join(tmp.dir, "agents", "sub.ts"),
    `import { Manager } from ${JSON.stringify(library)};\n` +
      `export class Sub extends Manager {}\n`,
  );
  await using m = await managed({
    allowSpawn: [new URL("../../", import.meta.url).href, tmp.url("agents/")],
  });
  const flag = "__aiomasManagerEscalated";
  for (
    const target of [`${library}#Manager`, `${tmp.url("agents/sub.ts")}#Sub`]
  ) {
    await assert.rejects(
      spawn(m.proxy, target, { allowSpawn: ["data:"] }),
      remote(
        "NotCapable",
        /^Manager refuses to spawn .*: the rule is never to spawn a Manager \(the caller would choose its allowSpawn\)$/,
      ),
    );
  }
  // Through a manager it could have made, this would have run.
  await assert.rejects(
    spawn(m.proxy, `data:application/javascript,globalThis.${flag}=1;#X`),
    refused(`data:application/javascript,globalThis.${flag}=1;`),
  );
  assert.equal(ran[flag], undefined);
  // No agent was left behind: the next one gets the next aid.
  const [, addr] = await spawn(m.proxy, spec("Echo"), "x:");
  assert.match(addr, /\/1$/);
  // The rule is spawn's: a program loading classes it trusts loads one.
  assert.equal(await loadAgentClass(`${library}#Manager`, "file:///"), Manager);
});
