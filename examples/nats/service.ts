/**
 * A service on a NATS subject, served by any number of processes in one
 * queue group, and a client that calls it.
 *
 * Run a server (`nats-server -a 127.0.0.1 -p 4222`), then, in two or more
 * terminals:
 *
 *     deno run --allow-net --allow-env examples/nats/service.ts serve
 *     deno run --allow-net --allow-env examples/nats/service.ts call
 *
 * `NATS_URL` names another server (default `127.0.0.1:4222`).
 */
import { expose } from "../../mod.ts";
import { connectNats, serveNats } from "../../nats/mod.ts";

class MathService {
  @expose
  add(a: number, b: number): string {
    return `${a} + ${b} = ${a + b} (answered by process ${Deno.pid})`;
  }
}

const nats = { servers: Deno.env.get("NATS_URL") ?? "127.0.0.1:4222" };

if (Deno.args[0] === "serve") {
  const server = await serveNats(new MathService(), {
    nats,
    subject: "examples.math",
    queue: "math",
  });
  console.log(`Serving on ${server.subject}; Ctrl-C stops`);
  Deno.addSignalListener("SIGINT", async () => {
    await server.close();
    Deno.exit(0);
  });
} else {
  await using client = await connectNats<MathService>("examples.math", {
    nats,
  });
  console.log(await client.remote.add(1, 2));
}
