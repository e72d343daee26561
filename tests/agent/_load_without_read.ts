// Run by manager_allow_spawn_test.ts without --allow-read: loads an agent
// class whose module is in the program's graph already, and prints it.
import "../fixtures/agents/agents.ts";
import { loadAgentClass } from "../../agent/manager.ts";

const spec = new URL("../fixtures/agents/agents.ts#Echo", import.meta.url);
try {
  console.log(`loaded ${(await loadAgentClass(spec.href, spec.href)).name}`);
} catch (error) {
  console.log(`failed: ${error}`);
}
