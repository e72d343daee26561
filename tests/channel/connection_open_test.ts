// openConnection's failures: refused connections, timeouts, retries, aborts
// and TLS handshakes that fail or never end.
import assert from "node:assert/strict";
import { openConnection, startServer } from "../../channel/mod.ts";
import {
  echo,
  LOCAL,
  peerClosed,
  tcpAddr,
  tlsFiles,
} from "./_connection_helpers.ts";

/** A port that nothing listens on: listen on port 0, then close. */
function freePort(): number {
  const listener = Deno.listen(LOCAL);
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Replaces `Deno.connect` while `fn` runs, to learn when a connection
 * attempt was refused and how often (the retry loop gives no other sign).
 */
async function withRefusalHook<T>(
  fn: (refused: Promise<void>, refusals: () => number) => Promise<T>,
): Promise<T> {
  const realConnect = Deno.connect;
  const refused = Promise.withResolvers<void>();
  let refusals = 0;
  Deno.connect = (async (options: Deno.ConnectOptions) => {
    try {
      return await realConnect(options);
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionRefused) {
        refusals++;
        refused.resolve();
      }
      throw error;
    }
  }) as typeof Deno.connect;
  try {
    return await fn(refused.promise, () => refusals);
  } finally {
    Deno.connect = realConnect;
  }
}

/**
 * A TCP server that accepts and then says nothing, e.g. never answers a
 * TLS handshake; `accepted` yields its connections.
 */
function startSilentServer(): {
  addr: { hostname: string; port: number };
  accepted: () => Promise<Deno.Conn>;
  [Symbol.dispose](): void;
} {
  const listener = Deno.listen(LOCAL);
  const conns: Deno.Conn[] = [];
  return {
    addr: listener.addr as Deno.NetAddr,
    accepted: async () => {
      const conn = await listener.accept();
      conns.push(conn);
      return conn;
    },
    [Symbol.dispose]() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Closed already.
        }
      }
    },
  };
}

Deno.test("openConnection: a closed port is ConnectionRefused, naming the address", async () => {
  const port = freePort();
  for (
    const addr of [
      { hostname: "127.0.0.1", port },
      ["127.0.0.1", port] as const,
      `127.0.0.1:${port}`,
    ]
  ) {
    await assert.rejects(openConnection(addr), (error) => {
      assert.ok(error instanceof Deno.errors.ConnectionRefused, String(error));
      assert.equal(error.name, "ConnectionRefused");
      assert.equal(
        error.message,
        `Connection refused: 127.0.0.1:${port} (os error 111)`,
      );
      assert.equal((error as { code?: string }).code, "ECONNREFUSED");
      assert.ok(error.cause instanceof Deno.errors.ConnectionRefused);
      return true;
    });
  }
});

Deno.test("openConnection with TLS: a closed port is ConnectionRefused, naming the address; retry works", async () => {
  const port = freePort();
  const tls = { caCerts: [tlsFiles.ca] };
  await assert.rejects(
    openConnection(`127.0.0.1:${port}`, { tls }),
    (error) => {
      assert.ok(error instanceof Deno.errors.ConnectionRefused, String(error));
      assert.equal(
        error.message,
        `Connection refused: 127.0.0.1:${port} (os error 111)`,
      );
      return true;
    },
  );
  // Retrying treats the refusal as the plain TCP path does.
  await assert.rejects(
    openConnection(`127.0.0.1:${port}`, { tls, retry: true, timeout: 100 }),
    (error) => {
      assert.ok(error instanceof DOMException, String(error));
      assert.match(error.message, /last attempt: ConnectionRefused/);
      return true;
    },
  );
});

Deno.test("openConnection: a host that does not resolve is named, over TCP and TLS alike (not as a TLS handshake)", async () => {
  // `.invalid` never resolves (RFC 2606).
  for (const tls of [undefined, { caCerts: [tlsFiles.ca] }]) {
    await assert.rejects(
      openConnection("nohost.invalid:5555", { tls }),
      (error) => {
        assert.ok(error instanceof Error, String(error));
        assert.match(
          error.message,
          /^failed to lookup address information.*nohost\.invalid:5555/,
        );
        assert.doesNotMatch(error.message, /TLS/);
        return true;
      },
    );
  }
});

Deno.test("openConnection: timeout is milliseconds (timeout: 5 gives up after 5 ms, not 5 s)", async () => {
  const port = freePort();
  await withRefusalHook(async (_refused, refusals) => {
    await assert.rejects(
      openConnection(`127.0.0.1:${port}`, { retry: true, timeout: 5 }),
      (error) => {
        assert.ok(error instanceof DOMException, String(error));
        assert.equal(error.name, "TimeoutError");
        assert.match(
          error.message,
          new RegExp(
            `^connecting to 127\\.0\\.0\\.1:${port} timed out after 5 ms`,
          ),
        );
        return true;
      },
    );
    // The first retry would come 500 ms after the first refusal.
    assert.ok(refusals() <= 1, `${refusals()} attempts`);
  });
});

Deno.test("openConnection: timeout 0 gives up at once; a bad timeout is a RangeError", async () => {
  await using server = await startServer(LOCAL, echo);
  await assert.rejects(
    openConnection(server.addr, { timeout: 0 }),
    (error) => error instanceof DOMException && error.name === "TimeoutError",
  );
  for (const timeout of [-1, NaN, "5" as unknown as number]) {
    await assert.rejects(
      openConnection(server.addr, { timeout }),
      RangeError,
      "expected milliseconds",
    );
  }
  // No connection was made by any of them.
  assert.equal(server.channels.size, 0);
  // Infinity is no deadline.
  await using channel = await openConnection(server.addr, {
    timeout: Infinity,
  });
  assert.equal(await channel.send("no deadline"), "no deadline");
});

Deno.test("openConnection: with retry it retries until the server is up", async () => {
  const port = freePort();
  await withRefusalHook(async (refused) => {
    const connecting = openConnection({ hostname: "127.0.0.1", port }, {
      retry: true,
      timeout: 60_000,
    });
    await refused;
    // The first attempt was refused; the retry (0.5 s later) finds the server.
    await using server = await startServer(
      { hostname: "127.0.0.1", port },
      echo,
    );
    assert.equal(tcpAddr(server).port, port);
    await using channel = await connecting;
    assert.equal(await channel.send("made it"), "made it");
  });
});

Deno.test("openConnection: a timeout during retries names the last error", async () => {
  const port = freePort();
  await withRefusalHook(async (refused) => {
    const connecting = openConnection(`127.0.0.1:${port}`, {
      retry: true,
      timeout: 100,
    });
    const outcome = connecting.then(() => null, (error) => error);
    await refused;
    const error = await outcome;
    assert.ok(error instanceof DOMException, String(error));
    assert.equal(error.name, "TimeoutError");
    assert.equal(
      error.message,
      `connecting to 127.0.0.1:${port} timed out after 100 ms (last attempt: ConnectionRefused: Connection refused (os error 111))`,
    );
  });
});

Deno.test("openConnection: retrying stops when the signal aborts", async () => {
  const port = freePort();
  await withRefusalHook(async (refused) => {
    const controller = new AbortController();
    const reason = new Error("gave up");
    const connecting = openConnection({ hostname: "127.0.0.1", port }, {
      retry: true,
      signal: controller.signal,
    });
    await refused;
    controller.abort(reason);
    await assert.rejects(connecting, (error) => error === reason);
  });
  const aborted = AbortSignal.abort();
  await assert.rejects(
    openConnection({ hostname: "127.0.0.1", port }, { signal: aborted }),
    (error) => error instanceof DOMException && error.name === "AbortError",
  );
});

for (
  const [name, clientCert] of [
    ["", {}],
    [" with a client certificate", {
      cert: tlsFiles.clientCert,
      key: tlsFiles.clientKey,
    }],
  ] as const
) {
  Deno.test(`openConnection${name}: a TLS handshake the server never answers ends when the signal aborts`, async () => {
    using silent = startSilentServer();
    const controller = new AbortController();
    const connecting = openConnection(silent.addr, {
      tls: { caCerts: [tlsFiles.ca], ...clientCert },
      signal: controller.signal,
    });
    const outcome = connecting.then(() => null, (error) => error);
    const conn = await silent.accepted();
    controller.abort();
    const error = await outcome;
    assert.ok(error instanceof DOMException, String(error));
    assert.equal(error.name, "AbortError");
    // The client closed its socket.
    await peerClosed(conn);
  });

  Deno.test(`openConnection${name}: a TLS handshake the server never answers ends at the timeout`, async () => {
    using silent = startSilentServer();
    const connecting = openConnection(silent.addr, {
      tls: { caCerts: [tlsFiles.ca], ...clientCert },
      timeout: 200,
    });
    const outcome = connecting.then(() => null, (error) => error);
    const conn = await silent.accepted();
    const error = await outcome;
    assert.ok(error instanceof DOMException, String(error));
    assert.equal(error.name, "TimeoutError");
    assert.equal(
      error.message,
      `connecting to 127.0.0.1:${silent.addr.port} timed out after 200 ms`,
    );
    await peerClosed(conn);
  });
}

Deno.test("openConnection: a TLS handshake error names the address", async () => {
  await using server = await startServer(LOCAL, echo, {
    tls: { cert: tlsFiles.serverCert, key: tlsFiles.serverKey },
  });
  const { port } = tcpAddr(server);
  await assert.rejects(
    openConnection(server.addr, { tls: {} }),
    (error) => {
      assert.ok(error instanceof Deno.errors.InvalidData, String(error));
      assert.match(
        error.message,
        new RegExp(
          `^TLS handshake with 127\\.0\\.0\\.1:${port} failed: .*certificate`,
        ),
      );
      return true;
    },
  );
});
