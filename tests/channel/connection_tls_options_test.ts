// TLS options checked up front (certificates, keys, handshakeTimeout) and a
// TLS client of a server that does not speak TLS.
import assert from "node:assert/strict";
import {
  type ListenTlsOptions,
  openConnection,
  startServer,
} from "../../channel/mod.ts";
import { within } from "../_within.ts";
import { echo, LOCAL, tlsFiles } from "./_connection_helpers.ts";

Deno.test("startServer: a bad handshakeTimeout is a RangeError; Infinity serves", async () => {
  // 0 too: node would read it as its own default of 120 s.
  for (const handshakeTimeout of [-1, NaN, 0]) {
    await assert.rejects(
      startServer(LOCAL, echo, { handshakeTimeout }),
      RangeError,
      "handshakeTimeout",
    );
  }
  await using server = await startServer(LOCAL, echo, {
    tls: { cert: tlsFiles.serverCert, key: tlsFiles.serverKey },
    handshakeTimeout: Infinity,
  });
  await using channel = await openConnection(server.addr, {
    tls: { caCerts: [tlsFiles.ca] },
  });
  assert.equal(await channel.send("ok"), "ok");
});

Deno.test("TLS: options node refuses reject the connect, which leaves nothing open", async () => {
  await using server = await startServer(LOCAL, echo, {
    tls: { cert: tlsFiles.serverCert, key: tlsFiles.serverKey },
  });
  await within(
    5_000,
    "openConnection with a bad caCerts",
    assert.rejects(
      openConnection(server.addr, {
        tls: { caCerts: [123 as unknown as string] },
      }),
      TypeError,
    ),
  );
});

Deno.test("TLS material that cannot work is a TypeError naming it, before listening or connecting", async () => {
  const { serverCert, serverKey, clientCert, clientKey, ca } = tlsFiles;
  const badServer: [Partial<ListenTlsOptions>, RegExp][] = [
    [
      { cert: "not a pem", key: serverKey },
      /tls\.cert: it holds no PEM certificate/,
    ],
    [{ cert: "", key: serverKey }, /tls\.cert: it holds no PEM certificate/],
    [
      { cert: serverCert, key: "not a pem" },
      /tls\.key: it holds no PEM private key/,
    ],
    [
      { cert: serverCert, key: clientKey },
      /key is not the private key of the first certificate in cert/,
    ],
    [{ cert: serverCert }, /cert and key go together, and key is missing/],
    [
      {
        cert: serverCert,
        key:
          "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----",
      },
      /tls\.key: it is encrypted, and there is no passphrase option/,
    ],
    [{}, /a server needs its cert and key/],
    [
      { cert: serverCert, key: serverKey, clientCaCerts: ["garbage"] },
      /tls\.clientCaCerts\[0\]: it holds no PEM certificate/,
    ],
  ];
  for (const [tls, message] of badServer) {
    await assert.rejects(
      startServer(LOCAL, echo, { tls: tls as ListenTlsOptions }),
      (error) => {
        assert.ok(error instanceof TypeError, String(error));
        assert.match(error.message, message);
        return true;
      },
    );
  }
  // A client's: nothing reaches the server.
  let accepted = 0;
  await using server = await startServer(LOCAL, (channel) => {
    accepted++;
    return echo(channel);
  }, { tls: { cert: serverCert, key: serverKey } });
  const badClient: [Record<string, unknown>, RegExp][] = [
    [{ caCerts: [ca], cert: clientCert }, /key is missing/],
    [{ caCerts: [ca], key: clientKey }, /cert is missing/],
    [
      { caCerts: [ca], cert: clientCert, key: serverKey },
      /not the private key/,
    ],
    [{
      caCerts: ["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"],
    }, /tls\.caCerts\[0\]: its certificate 1 does not parse/],
  ];
  for (const [tls, message] of badClient) {
    await assert.rejects(openConnection(server.addr, { tls }), (error) => {
      assert.ok(error instanceof TypeError, String(error));
      assert.match(error.message, message);
      return true;
    });
  }
  await using good = await openConnection(server.addr, {
    tls: { caCerts: [ca] },
  });
  assert.equal(await good.send("ok"), "ok");
  assert.equal(accepted, 1);
});

Deno.test("TLS: a TLS client of a plain server gets a ConnectionReset that says so; retry retries it until the timeout, whose message names it", async () => {
  let accepted = 0;
  await using server = await startServer(LOCAL, (channel) => {
    accepted++;
    return echo(channel);
  }, { onError: () => {} });
  const tls = { caCerts: [tlsFiles.ca] };
  const hint =
    /TLS handshake with 127\.0\.0\.1:\d+ failed: the connection was closed \(by a server that does not use TLS, or one that is closing\)/;
  await assert.rejects(openConnection(server.addr, { tls }), (error) => {
    assert.ok(error instanceof Deno.errors.ConnectionReset, String(error));
    assert.match(error.message, new RegExp(`^${hint.source}$`));
    return true;
  });
  assert.equal(accepted, 1);
  // A server behind a proxy may close handshakes until it is up: retried.
  await within(
    10_000,
    "openConnection with retry",
    assert.rejects(
      openConnection(server.addr, { tls, retry: true, timeout: 700 }),
      (error) => {
        assert.ok(error instanceof DOMException, String(error));
        assert.equal(error.name, "TimeoutError");
        assert.match(error.message, hint);
        return true;
      },
    ),
  );
  assert.ok(accepted >= 2, `${accepted} attempts`);
});

Deno.test("TLS: a key text that holds the certificate too is used (as node:tls uses it)", async () => {
  const combined = `${tlsFiles.serverCert}\n${tlsFiles.serverKey}`;
  await using server = await startServer(LOCAL, echo, {
    tls: { cert: tlsFiles.serverCert, key: combined },
  });
  await using channel = await openConnection(server.addr, {
    tls: {
      caCerts: [tlsFiles.ca],
      cert: tlsFiles.clientCert,
      key: `${tlsFiles.clientKey}\n${tlsFiles.clientCert}`,
    },
  });
  assert.equal(await channel.send("ok"), "ok");
});
