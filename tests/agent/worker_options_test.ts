// startContainerWorker's options beyond the basics: names picked for
// unnamed workers (also by a worker for its own), and the external clock's
// initial time.
import assert from "node:assert/strict";
import {
  Container,
  type DynamicRemote,
  startContainerWorker,
} from "../../agent/mod.ts";

const LOCAL = { hostname: "127.0.0.1", port: 0 };
const AGENTS_URL = new URL("../fixtures/agents/agents.ts", import.meta.url);

async function spawn(
  manager: { spawn(spec: string, ...args: unknown[]): Promise<unknown> },
  name: string,
): Promise<DynamicRemote> {
  const [agent] = await manager.spawn(`${AGENTS_URL.href}#${name}`) as [
    DynamicRemote,
    string,
  ];
  return agent;
}

Deno.test("startContainerWorker: an unnamed worker's name skips one a named worker took", async () => {
  await using parent = await Container.create(LOCAL);
  await using first = await startContainerWorker({ container: parent });
  const n = Number(/^worker:\/\/w(\d+)\/$/.exec(first.addr)![1]);
  // The name the next unnamed worker would have been given.
  await using named = await startContainerWorker({
    container: parent,
    name: `w${n + 1}`,
  });
  await using unnamed = await startContainerWorker({ container: parent });
  assert.equal(named.addr, `worker://w${n + 1}/`);
  assert.equal(unnamed.addr, `worker://w${n + 2}/`);
  // A name given twice is still refused.
  await assert.rejects(
    startContainerWorker({ container: parent, name: `w${n + 1}` }),
    { name: "TypeError", message: /exists already/ },
  );
});

Deno.test("startContainerWorker: externalClockInitTime sets the worker's clock, as aiomas masters start at -1", async () => {
  await using parent = await Container.create(LOCAL);
  await using worker = await startContainerWorker({
    container: parent,
    externalClockStart: "2016-01-01T00:00:00+00:00",
    externalClockInitTime: -1,
  });
  const sleeper = await spawn(worker.manager, "Sleeper");
  assert.equal(await sleeper.time(), -1);
  const woken = sleeper.sleep(1);
  assert.equal(await worker.manager.set_time(0), null);
  assert.deepEqual(await woken, [0, "2016-01-01T00:00:00.000Z"]);
});

Deno.test("startContainerWorker in a worker: its worker is named after it, never with its own name", async () => {
  await using parent = await Container.create(LOCAL);
  await using worker = await startContainerWorker({
    container: parent,
    allowSpawn: [new URL("../fixtures/", import.meta.url).href],
  });
  const nester = await spawn(worker.manager, "Nester");
  const [own, child, spawned] = await nester.nest() as string[];
  assert.equal(own, worker.addr);
  const name = /^worker:\/\/(.*)\/$/.exec(own)![1];
  assert.equal(child, `worker://${name}.1/`);
  // Spawned in the child, not in the worker that started it.
  assert.ok(spawned.startsWith(child), spawned);
  // Its own name given explicitly is refused.
  await assert.rejects(nester.nest(name), (error) => {
    assert.match(
      String(error),
      /is the address of the container that starts it/,
    );
    return true;
  });
});
