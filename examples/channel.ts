/**
 * The aiomas channel example: the server prints `ohai`, the client `cya`.
 *
 * Run: deno run --allow-net examples/channel.ts
 */
import {
  type Address,
  type Channel,
  openConnection,
  startServer,
} from "../mod.ts";

async function handleClient(channel: Channel): Promise<void> {
  const request = await channel.recv();
  console.log(request.content);
  await request.reply("cya");
  await channel.close();
}

async function client(
  addr: Address,
): Promise<void> {
  const channel = await openConnection(addr);
  const reply = await channel.send("ohai");
  console.log(reply);
  await channel.close();
}

const server = await startServer(
  { hostname: "127.0.0.1", port: 0 },
  handleClient,
);
await client(server.addr);
await server.close();
