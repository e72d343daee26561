/**
 * The "agents in one container" rows of bench/e2e.ts, in a process of its
 * own started with `--v8-flags=--expose-gc`, so that the heap is measured
 * after a full GC and apart from everything else. Prints one JSON line.
 *
 *   deno run -A --v8-flags=--expose-gc bench/_agents_child.ts --agents=100000
 */
import { Container } from "../mod.ts";
import { Tiny } from "./_agents.ts";
import { parseOptions } from "./_cli.ts";

/** What the child prints. */
export interface AgentsResult {
  agents: number;
  createMs: number[];
  heapBytesPerAgent: number[];
  gc: boolean;
}

async function main(agents: number): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const collect = () => {
    gc?.();
    gc?.();
  };
  // Warm up the code paths (JIT) on a small container first.
  const warm = await Container.create("local://agents-warmup");
  for (let i = 0; i < 2000; i++) new Tiny(warm);
  await warm.shutdown();
  const createMs: number[] = [];
  const perAgent: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    let container: Container | undefined = await Container.create(
      `local://agents-${rep}`,
    );
    collect();
    const before = Deno.memoryUsage().heapUsed;
    const start = performance.now();
    for (let i = 0; i < agents; i++) new Tiny(container);
    createMs.push(performance.now() - start);
    collect();
    perAgent.push((Deno.memoryUsage().heapUsed - before) / agents);
    if (container.agents.size !== agents) {
      throw new Error(
        `expected ${agents} agents, got ${container.agents.size}`,
      );
    }
    await container.shutdown();
    container = undefined;
    collect();
  }
  const result: AgentsResult = {
    agents,
    createMs,
    heapBytesPerAgent: perAgent,
    gc: gc !== undefined,
  };
  console.log(JSON.stringify(result));
}

/** Runs this file in a child process and returns what it printed. */
export async function runAgentsChild(agents: number): Promise<AgentsResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--v8-flags=--expose-gc",
      new URL(import.meta.url).pathname,
      `--agents=${agents}`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error("the agents child failed");
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as AgentsResult;
}

if (import.meta.main) {
  const options = parseOptions(
    "bench/_agents_child.ts: creates agents in one container, measures time and heap (started by bench/e2e.ts).",
    { agents: { type: "number", arg: "=N", help: "agents (100000)" } },
  );
  await main(options.agents ?? 100_000);
}
