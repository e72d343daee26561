// Addresses for startServer and openConnection: Unix sockets, malformed
// addresses and addresses already in use.
import assert from "node:assert/strict";
import {
  type Channel,
  openConnection,
  startServer,
} from "../../channel/mod.ts";
import { within } from "../_within.ts";
import { echo, LOCAL, tcpAddr, tlsFiles } from "./_connection_helpers.ts";

Deno.test("Unix socket: round trip; the socket file is removed on close", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/aiomas.sock`;
    const serverSide = Promise.withResolvers<Channel>();
    const server = await startServer(`unix:${path}`, (channel) => {
      serverSide.resolve(channel);
      return echo(channel);
    });
    assert.deepEqual(server.addr, { path });
    assert.ok((await Deno.lstat(path)).isSocket);
    const channel = await openConnection(server.addr);
    assert.equal(channel.peer, `unix:${path}`);
    assert.equal((await serverSide.promise).peer, `unix:${path} (client)`);
    assert.deepEqual(await channel.send({ via: "unix" }), { via: "unix" });
    await using byString = await openConnection(`unix:${path}`);
    assert.equal(await byString.send("by string"), "by string");
    await server.close();
    await channel.closed;
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
    await assert.rejects(openConnection({ path }), (error) => {
      assert.ok(error instanceof Deno.errors.NotFound, String(error));
      assert.equal(
        error.message,
        `No such file or directory: unix:${path} (os error 2)`,
      );
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Unix socket: a server that took the path while the old one was still closing keeps its socket file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/restart.sock`;
    const entered = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    const old = await startServer({ path }, async (channel) => {
      for await (const request of channel) {
        entered.resolve();
        await release.promise;
        await request.reply("old");
      }
    });
    await using client = await openConnection({ path });
    const reply = client.send("slow");
    await entered.promise;
    // Its listener closes first (Deno unlinks the file when its pending
    // accept ends); its close then waits for the call.
    const watcher = Deno.watchFs(dir);
    const closing = old.close({ timeout: 10_000 });
    await within(
      10_000,
      "the old socket file's removal",
      (async () => {
        for await (const event of watcher) {
          if (event.kind === "remove" && event.paths.includes(path)) return;
        }
      })(),
    );
    watcher.close();
    await using next = await startServer({ path }, echo);
    release.resolve();
    assert.equal(await reply, "old");
    await closing;
    assert.ok((await Deno.lstat(path)).isSocket);
    await using channel = await openConnection({ path });
    assert.equal(await channel.send("new"), "new");
    await next.close();
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Unix socket: a stale socket file is replaced", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/stale.sock`;
    // A process that exits without closing its listener leaves the file behind.
    const { success } = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `Deno.listen({ transport: "unix", path: ${
          JSON.stringify(path)
        } }); Deno.exit(0);`,
      ],
      stdout: "null",
      stderr: "inherit",
    }).output();
    assert.ok(success);
    assert.ok((await Deno.lstat(path)).isSocket);
    await using server = await startServer({ path }, echo);
    await using channel = await openConnection(server.addr);
    assert.equal(await channel.send("fresh"), "fresh");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Unix socket: a socket a server listens on is AddrInUse, and that server keeps it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/live.sock`;
    await using first = await startServer({ path }, echo);
    await assert.rejects(
      startServer({ path }, echo),
      Deno.errors.AddrInUse,
      `Address already in use: unix:${path} (a server listens on it)`,
    );
    await using channel = await openConnection(first.addr);
    assert.equal(await channel.send("still mine"), "still mine");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Unix socket: a path too long for a socket is a TypeError naming it, at listen and connect", async () => {
  const path = `/tmp/${"x".repeat(200)}.sock`;
  const named = {
    name: "TypeError",
    message: new RegExp(`: unix:${path}$`),
  };
  await assert.rejects(startServer({ path }, echo), named);
  await assert.rejects(openConnection({ path }), named);
});

Deno.test("openConnection and startServer: malformed addresses are TypeErrors that quote them", async () => {
  for (
    const addr of [
      "",
      "127.0.0.1",
      "127.0.0.1:5555x",
      "/tmp/aiomas.sock",
      "http://127.0.0.1:5555",
      { port: 5555 },
      { hostname: "127.0.0.1", port: -1 },
      { hostname: "127.0.0.1", port: 1.5 },
      { hostname: "127.0.0.1", port: 70000 },
      [1, 2],
    ]
  ) {
    const quoted = `Invalid address ${JSON.stringify(addr)}: `;
    await assert.rejects(openConnection(addr as never), TypeError, quoted);
    await assert.rejects(startServer(addr as never, echo), TypeError, quoted);
  }
});

Deno.test("startServer: an address in use is AddrInUse, naming the address", async () => {
  await using server = await startServer(LOCAL, echo);
  const { port } = tcpAddr(server);
  const inUse = (error: unknown) => {
    assert.ok(error instanceof Deno.errors.AddrInUse, String(error));
    assert.match(
      error.message,
      new RegExp(`^Address already in use: 127\\.0\\.0\\.1:${port}`),
    );
    return true;
  };
  await assert.rejects(startServer(server.addr, echo), inUse);
  await assert.rejects(startServer(`127.0.0.1:${port}`, echo), inUse);
  await assert.rejects(
    startServer(server.addr, echo, {
      tls: { cert: tlsFiles.serverCert, key: tlsFiles.serverKey },
    }),
    inUse,
  );
  await assert.rejects(
    startServer(server.addr, echo, {
      tls: {
        cert: tlsFiles.serverCert,
        key: tlsFiles.serverKey,
        clientCaCerts: [tlsFiles.ca],
      },
    }),
    inUse,
  );
});
