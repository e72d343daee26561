/**
 * The aiomas agent example: two agents in one container; the first calls
 * the second through a proxy.
 *
 * Run: deno run --allow-net examples/agents.ts
 */
import { Agent, Container, expose } from "../mod.ts";

class TestAgent extends Agent {
  constructor(container: Container) {
    super(container);
    console.log(`Ohai, I am ${this}`);
  }

  async run(addr: string): Promise<void> {
    const remote = await this.container.connect<TestAgent>(addr);
    const ret = await remote.service(42);
    console.log(`${this} got ${ret} from ${remote}`);
  }

  @expose
  service(value: number): number {
    return value;
  }
}

// aiomas's example binds port 5555; port 0 takes a free one, which `c.addr` shows.
const c = await Container.create({ hostname: "127.0.0.1", port: 0 });
const agents = [new TestAgent(c), new TestAgent(c)];
await agents[0].run(agents[1].addr);
await c.shutdown();
