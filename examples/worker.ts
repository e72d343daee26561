/**
 * A container in a Worker: real parallelism without a process. The main
 * container starts a worker container, whose manager spawns an agent from
 * this very module (the Worker imports it; `import.meta.main` is false
 * there), and calls it like any other agent, with a deadline.
 *
 * Run: deno run --allow-read examples/worker.ts
 *
 * (`--allow-read` lets the Worker load this module; the containers talk
 * over MessagePorts, so no network permission is needed. Add
 * `--allow-net` to reach TCP containers from the Worker.)
 */
import {
  Agent,
  Container,
  expose,
  startContainerWorker,
  withOptions,
} from "../mod.ts";

/** The agent the worker container runs. */
export class Doubler extends Agent {
  @expose
  double(x: number): number {
    return 2 * x;
  }

  @expose
  where(): string {
    return this.container.addr;
  }
}

if (import.meta.main) {
  // Every agent call of this container gives up after 5 s.
  await using container = await Container.create("local://main", {
    callTimeout: 5_000,
  });
  await using worker = await startContainerWorker({
    container,
    // The manager spawns only from modules under these prefixes.
    allowSpawn: [new URL("./", import.meta.url).href],
  });
  const [, addr] = await worker.manager.spawn(`${import.meta.url}#Doubler`);
  const doubler = await container.connect<Doubler>(addr);
  console.log(`${doubler} lives in ${await doubler.where()}`);
  // One call with its own deadline.
  const quick = withOptions(doubler, { timeout: 1_000 });
  console.log("2 × 21 =", await quick.double(21));
  // Leaving the block stops the worker, then shuts the container down.
}
