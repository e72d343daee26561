// TLS and mutual TLS servers and clients: certificates, handshake failures
// and handshake timeouts.
import assert from "node:assert/strict";
import {
  type Channel,
  type ListenTlsOptions,
  openConnection,
  type Server,
  startServer,
} from "../../channel/mod.ts";
import { ConnectionClosedError, ProtocolError } from "../../errors.ts";
import {
  echo,
  LOCAL,
  peerClosed,
  serve,
  tcpAddr,
  tlsFiles,
} from "./_connection_helpers.ts";

Deno.test("TLS: round trip with a CA-signed server certificate", async () => {
  await using server = await startServer(
    LOCAL,
    (channel) => serve(channel, (c) => [c, "over tls"]),
    {
      tls: { cert: tlsFiles.serverCert, key: tlsFiles.serverKey },
    },
  );
  const addr = tcpAddr(server);
  await using channel = await openConnection(addr, {
    tls: { caCerts: [tlsFiles.ca] },
  });
  assert.deepEqual(await channel.send("secret"), ["secret", "over tls"]);
  assert.equal(channel.peer, `127.0.0.1:${addr.port}`);
  // Several connections, one after the other and at once.
  const more = await Promise.all(
    [1, 2, 3].map(() =>
      openConnection(addr, { tls: { caCerts: [tlsFiles.ca] } })
    ),
  );
  assert.deepEqual(
    await Promise.all(more.map((c, i) => c.send(i))),
    [[0, "over tls"], [1, "over tls"], [2, "over tls"]],
  );
  await Promise.all(more.map((c) => c.close()));
});

Deno.test("TLS: a client certificate may be presented", async () => {
  await using server = await startServer(LOCAL, echo, {
    tls: { cert: tlsFiles.serverCert, key: tlsFiles.serverKey },
  });
  await using channel = await openConnection(server.addr, {
    tls: {
      caCerts: [tlsFiles.ca],
      cert: tlsFiles.clientCert,
      key: tlsFiles.clientKey,
    },
  });
  assert.equal(await channel.send("with client cert"), "with client cert");
});

Deno.test("TLS: an untrusted server certificate fails openConnection", async () => {
  await using server = await startServer(LOCAL, echo, {
    tls: { cert: tlsFiles.serverCert, key: tlsFiles.serverKey },
    onError: () => {},
  });
  // The system's CAs do not know the test CA; trusting the client
  // certificate's own CA file instead of it would not help either.
  for (const tls of [{}, { caCerts: [tlsFiles.clientCert] }]) {
    await assert.rejects(openConnection(server.addr, { tls }), (error) => {
      assert.ok(error instanceof Deno.errors.InvalidData, String(error));
      assert.match(error.message, /certificate/i);
      return true;
    });
  }
  await using channel = await openConnection(server.addr, {
    tls: { caCerts: [tlsFiles.ca] },
  });
  assert.equal(await channel.send("trusted"), "trusted");
});

Deno.test("TLS: a plain-TCP client fails only its own connection; onHandshakeError names it", async () => {
  const failed = Promise.withResolvers<[Error, string]>();
  await using server = await startServer(LOCAL, echo, {
    tls: { cert: tlsFiles.serverCert, key: tlsFiles.serverKey },
    onHandshakeError: (error, peer) => failed.resolve([error, peer]),
  });
  // The server answers the cleartext request with a TLS alert: not a frame.
  const plain = await openConnection(server.addr);
  const plainEnd = plain.peer;
  await assert.rejects(plain.send("hello?"), ConnectionClosedError);
  await assert.rejects(plain.closed, (error: unknown) => {
    assert.ok(error instanceof ProtocolError);
    // The alert's header read as a length, and what it really is.
    assert.match(
      error.message,
      /exceeds maxFrameSize \d+ \(the bytes start a TLS record: is the peer using TLS and this side not\?\)$/,
    );
    return true;
  });
  await plain.close();
  const [error, peer] = await failed.promise;
  assert.ok(error instanceof Error);
  assert.match(peer, /^127\.0\.0\.1:\d+$/);
  assert.notEqual(peer, plainEnd, "the client's end, not the server's");
  // The server still accepts TLS clients.
  await using channel = await openConnection(server.addr, {
    tls: { caCerts: [tlsFiles.ca] },
  });
  assert.equal(await channel.send("still there"), "still there");
});

/** Whether a client gets a reply from a server: false if the handshake or the call fails. */
async function getsReply(
  addr: Server["addr"],
  tls: { caCerts: string[]; cert?: string; key?: string },
  errors?: string[],
): Promise<boolean> {
  let channel: Channel;
  try {
    channel = await openConnection(addr, { tls });
  } catch {
    return false;
  }
  try {
    return await channel.send("let me in") === "let me in";
  } catch (error) {
    assert.ok(error instanceof ConnectionClosedError, String(error));
    errors?.push(error.message);
    return false;
  } finally {
    await channel.close();
  }
}

Deno.test("mutual TLS: only clients with a certificate from the CA are served; the others are reported", async () => {
  const handshakeErrors: [Error, string][] = [];
  await using server = await startServer(LOCAL, echo, {
    tls: {
      cert: tlsFiles.serverCert,
      key: tlsFiles.serverKey,
      clientCaCerts: [tlsFiles.ca],
    },
    onHandshakeError: (error, peer) => handshakeErrors.push([error, peer]),
  });
  const trusted = { caCerts: [tlsFiles.ca] };
  assert.equal(
    await getsReply(server.addr, {
      ...trusted,
      cert: tlsFiles.clientCert,
      key: tlsFiles.clientKey,
    }),
    true,
  );
  // No certificate, or one the CA did not sign: nothing but a closed connection.
  const errors: string[] = [];
  assert.equal(await getsReply(server.addr, trusted, errors), false);
  // The TLS alert says why: no guess about the peer's codec beside it.
  assert.match(errors[0], /fatal alert: CertificateRequired$/);
  assert.equal(handshakeErrors.length, 1);
  assert.match(handshakeErrors[0][1], /^127\.0\.0\.1:\d+$/);
  // Named as a handshake error with that peer, whatever node's text says.
  assert.match(
    handshakeErrors[0][0].message,
    new RegExp(`^TLS handshake with ${handshakeErrors[0][1]} failed: `),
  );
  assert.equal(
    await getsReply(server.addr, {
      ...trusted,
      cert: tlsFiles.rogueCert,
      key: tlsFiles.rogueKey,
    }),
    false,
  );
  // The server keeps serving good clients.
  assert.equal(
    await getsReply(server.addr, {
      ...trusted,
      cert: tlsFiles.clientCert,
      key: tlsFiles.clientKey,
    }),
    true,
  );
  assert.equal(handshakeErrors.length, 2);
  assert.ok(tcpAddr(server).port > 0);
});

Deno.test("TLS needs a TCP address", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/tls.sock`;
    await assert.rejects(
      startServer({ path }, echo, {
        tls: { cert: tlsFiles.serverCert, key: tlsFiles.serverKey },
      }),
      TypeError,
      `TLS needs a TCP address, not unix:${path}`,
    );
    await assert.rejects(
      openConnection({ path }, { tls: { caCerts: [tlsFiles.ca] } }),
      TypeError,
      `TLS needs a TCP address, not unix:${path}`,
    );
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const serverTlsCases: [string, ListenTlsOptions][] = [
  ["TLS", { cert: tlsFiles.serverCert, key: tlsFiles.serverKey }],
  ["mutual TLS", {
    cert: tlsFiles.serverCert,
    key: tlsFiles.serverKey,
    clientCaCerts: [tlsFiles.ca],
  }],
];

for (const [name, serverTls] of serverTlsCases) {
  Deno.test(`${name} server: a client that never handshakes is dropped after handshakeTimeout; others are served meanwhile`, async () => {
    const failed = Promise.withResolvers<[Error, string]>();
    await using server = await startServer(LOCAL, echo, {
      tls: serverTls,
      handshakeTimeout: 300,
      onHandshakeError: (error, peer) => failed.resolve([error, peer]),
    });
    const clientTls = {
      caCerts: [tlsFiles.ca],
      cert: tlsFiles.clientCert,
      key: tlsFiles.clientKey,
    };
    const silent = await Deno.connect(tcpAddr(server));
    try {
      // While the silent client holds its handshake open, a good one is served.
      await using good = await openConnection(server.addr, { tls: clientTls });
      assert.equal(await good.send("served"), "served");
      // Only finished handshakes become channels.
      assert.equal(server.channels.size, 1);
      // The server closes the silent connection, and says so.
      await peerClosed(silent);
      const [error, peer] = await failed.promise;
      assert.match(String(error), /timeout/i);
      assert.equal(peer, `127.0.0.1:${silent.localAddr.port}`);
      assert.equal(await good.send("still served"), "still served");
    } finally {
      silent.close();
    }
  });

  Deno.test(`${name} server: closing it ends pending handshakes, which are not reported as failed`, async () => {
    const failed: unknown[] = [];
    const server = await startServer(LOCAL, echo, {
      tls: serverTls,
      onHandshakeError: (error) => failed.push(error),
    });
    const silent = await Deno.connect(tcpAddr(server));
    try {
      // Make sure the server accepted it: a handshake is pending then.
      await using good = await openConnection(server.addr, {
        tls: {
          caCerts: [tlsFiles.ca],
          cert: tlsFiles.clientCert,
          key: tlsFiles.clientKey,
        },
      });
      assert.equal(await good.send("up"), "up");
      await server.close();
      await peerClosed(silent);
      assert.deepEqual(failed, []);
    } finally {
      silent.close();
    }
  });
}
