/**
 * The aiomas RPC example: a client asks a math server what 3 + 4 is.
 *
 * Run: deno run --allow-net examples/rpc.ts
 */
import { expose, rpc } from "../mod.ts";

class MathServer {
  @expose
  add(a: number, b: number): number {
    return a + b;
  }
}

const server = await rpc.startServer(
  { hostname: "127.0.0.1", port: 0 },
  new MathServer(),
);
const client = await rpc.openConnection<MathServer>(server.addr);
console.log("What’s 3 + 4?", await client.remote.add(3, 4));
await client.close();
await server.close();
