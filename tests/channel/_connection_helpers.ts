// Helpers shared by the connection_*_test.ts files: the TLS fixtures, an
// echo handler, and checks on servers and sockets.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { Channel, Server } from "../../channel/mod.ts";

export const LOCAL = { hostname: "127.0.0.1", port: 0 };

function readFixture(name: string): string {
  return Deno.readTextFileSync(
    fileURLToPath(new URL(`../fixtures/tls/${name}`, import.meta.url)),
  );
}

export const tlsFiles = {
  ca: readFixture("ca.pem"),
  serverCert: readFixture("server.pem"),
  serverKey: readFixture("server.key"),
  clientCert: readFixture("client.pem"),
  clientKey: readFixture("client.key"),
  rogueCert: readFixture("rogue.pem"),
  rogueKey: readFixture("rogue.key"),
};

/** Serves every request of `channel` with `fn` until the channel closes. */
export async function serve(
  channel: Channel,
  fn: (content: unknown) => unknown,
): Promise<void> {
  for await (const request of channel) await request.reply(fn(request.content));
}

export const echo = (channel: Channel) => serve(channel, (content) => content);

export function tcpAddr(server: Server): { hostname: string; port: number } {
  assert.equal(typeof server.addr, "object");
  return server.addr as { hostname: string; port: number };
}

/** Resolves when the peer of `conn` has closed or reset it. */
export async function peerClosed(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(4096);
  try {
    while (await conn.read(buffer) !== null) {
      // Drain whatever it sent (e.g. a ClientHello).
    }
  } catch (error) {
    assert.ok(error instanceof Deno.errors.ConnectionReset, String(error));
  }
}
