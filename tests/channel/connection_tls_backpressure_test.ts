// TLS connections hold back a peer that does not read, as TCP ones do: the
// node:tls sockets under them buffered without bound in Deno.
import assert from "node:assert/strict";
import {
  type Channel,
  openConnection,
  startServer,
} from "../../channel/mod.ts";
import { ConnectionClosedError, ProtocolError } from "../../errors.ts";
import { frame } from "../_frames.ts";
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

/** A TLS server of Deno's own on a free loopback port, for a raw peer. */
function rawTlsListener(): Deno.TlsListener {
  return Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: tlsFiles.serverCert,
    key: tlsFiles.serverKey,
  });
}

Deno.test("TLS: a client that takes no requests holds its server back", async () => {
  const listener = rawTlsListener();
  const request = frame(
    new TextEncoder().encode(JSON.stringify([0, 1, "x".repeat(MiB)])),
  );
  let written = 0;
  const serving = (async () => {
    const conn = await listener.accept();
    const writer = conn.writable.getWriter();
    try {
      for (let i = 0; i < 48; i++) {
        await writer.write(request);
        written += request.length;
      }
    } catch {
      // The client closed.
    } finally {
      await writer.abort().catch(() => {});
    }
  })();
  const client = await openConnection(
    { hostname: "127.0.0.1", port: listener.addr.port },
    { tls: { caCerts: [tlsFiles.ca] }, maxQueuedRequests: 1 },
  );
  try {
    // Round trips over another TLS connection: time for the 48 MiB to go
    // out if nothing held them back (before the fix, all did).
    await using echo = await startServer(
      LOCAL,
      async (channel) => {
        for await (const request of channel) {
          await request.reply(request.content);
        }
      },
      { tls: { cert: tlsFiles.serverCert, key: tlsFiles.serverKey } },
    );
    await using other = await openConnection(tcpAddr(echo), {
      tls: { caCerts: [tlsFiles.ca] },
    });
    for (let i = 0; i < 200 && written < 16 * MiB; i++) {
      await other.send(i);
    }
    assert.ok(written < 16 * MiB, `the server wrote ${written / MiB} MiB`);
    assert.ok(
      client.stats.bytesReceived < 16 * MiB,
      `the client read ${client.stats.bytesReceived / MiB} MiB`,
    );
  } finally {
    await client.close();
    listener.close();
    await serving;
  }
});

Deno.test("TLS: bytes node had buffered when the channel failed do not crash the client", async () => {
  const listener = rawTlsListener();
  const encoder = new TextEncoder();
  let size = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      // A large request, then a frame that is no JSON, then more bytes:
      // the client fails while node still holds some of them.
      const big = frame(
        encoder.encode(JSON.stringify([0, 1, "x".repeat(size)])),
      );
      const bad = frame(encoder.encode("not json"));
      const all = new Uint8Array(big.length + bad.length + 3_000_000);
      all.set(big);
      all.set(bad, big.length);
      const writer = conn.writable.getWriter();
      writer.write(all).then(() => writer.close()).catch(() => {});
    }
  })();
  try {
    for (let i = 0; i < 60; i++) {
      size = 60_000 + i * 7_919;
      const client = await openConnection(
        { hostname: "127.0.0.1", port: listener.addr.port },
        { tls: { caCerts: [tlsFiles.ca] } },
      );
      await assert.rejects(client.closed, ProtocolError);
    }
  } finally {
    listener.close();
    await serving;
  }
});
