// Run by manager_allow_spawn_test.ts without --allow-read: loads an agent
// class whose module is in the program's graph already; then one module
// that does not exist, 100 times at once; then 200 others at once; then
// the first again. Prints what came of each group.
import "../fixtures/agents/agents.ts";
import { loadAgentClass } from "../../agent/manager.ts";

async function load(path: string): Promise<string> {
  const spec = new URL(path, import.meta.url).href;
  try {
    return `loaded ${(await loadAgentClass(spec, spec)).name}`;
  } catch (error) {
    const message = (error as Error).message;
    return message.startsWith("Requires read access")
      ? "failed: no read access"
      : /^Manager refuses to spawn .*64 such modules/.test(message)
      ? "refused: 64 unchecked"
      : `failed: ${message}`;
  }
}

async function group(paths: string[]): Promise<string> {
  const counts = new Map<string, number>();
  for (const outcome of await Promise.all(paths.map(load))) {
    counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  }
  return [...counts].map(([outcome, count]) => `${count} × ${outcome}`).join(
    ", ",
  );
}

console.log(await load("../fixtures/agents/agents.ts#Echo"));
console.log(await group(Array(100).fill("../fixtures/agents/missing.ts#Echo")));
console.log(
  await group(
    Array.from({ length: 200 }, (_, i) => `../fixtures/agents/m${i}.ts#Echo`),
  ),
);
console.log(await load("../fixtures/agents/agents.ts#Echo"));
