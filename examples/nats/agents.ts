/**
 * Two containers in two processes, attached to one nats-server: agents
 * call each other by `nats://<name>/<aid>` addresses, with no port of
 * their own.
 *
 * Run a server (`nats-server -a 127.0.0.1 -p 4222`), then, in two
 * terminals:
 *
 *     deno run --allow-net --allow-env examples/nats/agents.ts bob
 *     deno run --allow-net --allow-env examples/nats/agents.ts alice nats://bob/0
 *
 * `NATS_URL` names another server (default `127.0.0.1:4222`).
 */
import { Agent, Container, expose } from "../../mod.ts";

class Greeter extends Agent {
  @expose
  greet(name: string, caller: Greeter): Promise<string> {
    return this.#greetBack(name, caller);
  }

  async #greetBack(name: string, caller: Greeter): Promise<string> {
    // `caller` arrived as a proxy of the calling agent: call it back.
    const where = await (caller as unknown as { where(): Promise<string> })
      .where();
    return `Ohai ${name} at ${where}, this is ${this.addr}`;
  }

  @expose
  where(): string {
    return this.addr;
  }
}

const [name, peer] = Deno.args;
if (name === undefined) {
  console.log("Usage: agents.ts <name> [<agent address to call>]");
  Deno.exit(2);
}
const nats = { servers: Deno.env.get("NATS_URL") ?? "127.0.0.1:4222" };
const container = await Container.create(`nats://${name}`, { nats });
const greeter = new Greeter(container);
console.log(`${greeter} is at ${greeter.addr}`);
if (peer === undefined) {
  console.log("Waiting for calls; Ctrl-C stops");
  Deno.addSignalListener("SIGINT", async () => {
    await container.shutdown();
    Deno.exit(0);
  });
} else {
  const remote = await container.connect<Greeter>(peer);
  console.log(await remote.greet(name, greeter));
  await container.shutdown();
}
