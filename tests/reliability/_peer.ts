// A tiny peer process for faults_container_test.ts: an RPC server and a
// container with one agent, on 127.0.0.1. Prints one JSON line with the RPC
// port and the agent's address, then one line "hang" each time a hanging
// call starts, and serves until it is killed.
//
//   deno run --allow-net tests/reliability/_peer.ts [container port]
import { Agent, Container, expose, rpc } from "../../mod.ts";

function hang(): Promise<never> {
  console.log("hang");
  return new Promise<never>(() => {});
}

class PeerService {
  @expose
  add(a: number, b: number): number {
    return a + b;
  }

  @expose
  hang(): Promise<never> {
    return hang();
  }
}

class PeerAgent extends Agent {
  @expose
  add(a: number, b: number): number {
    return a + b;
  }

  @expose
  hang(): Promise<never> {
    return hang();
  }
}

const server = await rpc.startServer(
  { hostname: "127.0.0.1", port: 0 },
  new PeerService(),
);
const container = await Container.create({
  hostname: "127.0.0.1",
  port: Number(Deno.args[0] ?? 0),
});
const agent = new PeerAgent(container);
const { port } = server.addr as { port: number };
console.log(JSON.stringify({ rpcPort: port, agent: agent.addr }));
