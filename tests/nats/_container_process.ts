// A container on NATS in a process of its own, for tests that kill it:
// `deno run -A _container_process.ts <nats url> <name>`. Its agent 0 never
// answers `hang`. Prints "ready" once attached.
import { Agent, Container } from "../../agent/mod.ts";
import { expose } from "../../rpc/expose.ts";

class Hanger extends Agent {
  @expose
  hang(): Promise<never> {
    return new Promise<never>(() => {});
  }

  @expose
  ping(): string {
    return "pong";
  }
}

const [url, name] = Deno.args;
const create = Container.create as (
  addr: string,
  options: Record<string, unknown>,
) => Promise<Container>;
const container = await create(`nats://${name}`, { nats: { servers: url } });
new Hanger(container);
console.log("ready");
