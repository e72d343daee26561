// TLS connections hold back a peer that does not read, as TCP ones do: the
// node:tls sockets under them buffered without bound in Deno.
import assert from "node:assert/strict";
import {
  type Channel,
  openConnection,
  startServer,
} from "../../channel/mod.ts";
import { ConnectionClosedError } from "../../errors.ts";
import { within } from "../_within.ts";
import { assertOtherPairWorks } from "./_channel_helpers.ts";
import { LOCAL, tcpAddr, tlsFiles } from "./_connection_helpers.ts";

const MiB = 1024 * 1024;

Deno.test("TLS: a server that takes no requests holds its client back, and the client's close ends in its deadline", async () => {
  const first = Promise.withResolvers<void>();
  let accepted: Channel | undefined;
  await using server = await startServer(
    LOCAL,
    async (channel) => {
      accepted = channel;
      // One request, then none: the others wait in the socket.
      await channel.recv();
      first.resolve();
      await channel.closed;
    },
    {
      tls: { cert: tlsFiles.serverCert, key: tlsFiles.serverKey },
      maxQueuedRequests: 1,
    },
  );
  const client = await openConnection(tcpAddr(server), {
    tls: { caCerts: [tlsFiles.ca] },
  });
  const big = "x".repeat(MiB);
  const count = 48;
  const sends = Array.from({ length: count }, () => client.send(big));
  for (const send of sends) send.catch(() => {});
  await within(10_000, "the first request", first.promise);
  // Round trips elsewhere: time for every byte to go out if nothing held
  // them back (before the fix, all 48 MiB were sent and read).
  for (let i = 0; i < 20; i++) await assertOtherPairWorks();
  const sent = client.stats.bytesSent;
  const read = accepted!.stats.bytesReceived;
  assert.ok(sent < 16 * MiB, `the client sent ${sent / MiB} MiB`);
  assert.ok(read < 16 * MiB, `the server read ${read / MiB} MiB`);
  // Its frames cannot all leave: the close gives up after its deadline
  // (1 s) instead of waiting for the socket to drain.
  await within(5_000, "client.close()", client.close());
  for (const send of sends) {
    await assert.rejects(send, ConnectionClosedError);
  }
});
