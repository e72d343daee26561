// Run by manager_allow_spawn_test.ts without --allow-read: loads an agent
// class whose module is in the program's graph already, then 70 from
// modules that do not exist, then the first again; prints what came of each.
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
      : /^Manager refuses to spawn .*64 such imports have failed/.test(message)
      ? "refused: 64 failed"
      : `failed: ${message}`;
  }
}

console.log(await load("../fixtures/agents/agents.ts#Echo"));
const missing = new Map<string, number>();
for (let i = 0; i < 70; i++) {
  const outcome = await load(`../fixtures/agents/missing${i}.ts#Echo`);
  missing.set(outcome, (missing.get(outcome) ?? 0) + 1);
}
for (const [outcome, count] of missing) console.log(`${count} × ${outcome}`);
console.log(await load("../fixtures/agents/agents.ts#Echo"));
