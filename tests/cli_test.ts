// cli.ts running: ready line, signals, codecs, clocks, transports and
// spawning agents.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Container, type Manager, MsgPackCodec } from "../mod.ts";
import { CLI, LOCAL, readTls, runCli, spawn, spec, startCli } from "./_cli.ts";
import { within } from "./_within.ts";

// --- Running -----------------------------------------------------------------

Deno.test("cli.ts prints its ready line, serves its manager and stops on SIGTERM", async () => {
  await using cli = await startCli(["--addr", "127.0.0.1:0"]);
  const { addr, manager } = cli.ready;
  assert.match(addr, /^tcp:\/\/127\.0\.0\.1:[1-9]\d*\/$/);
  assert.equal(manager, `${addr}0`);
  assert.deepEqual(Object.keys(cli.ready), ["addr", "manager"]);
  {
    await using master = await Container.create(LOCAL);
    const proxy = await master.connect<Manager>(manager);
    assert.equal(String(proxy), `ManagerProxy('${manager}')`);
    const [agent, agentAddr] = await spawn(proxy, spec("Echo"), "cli:");
    assert.equal(agentAddr, `${addr}1`);
    assert.equal(await agent.echo(1), "cli:1");
    assert.equal(await agent.where(), addr);
    // A realtime clock cannot be set.
    await assert.rejects(proxy.set_time(1), { remoteName: "TypeError" });
  }
  cli.child.kill("SIGTERM");
  const { status, stdout, stderr } = await cli.finish();
  assert.equal(status.code, 0);
  assert.equal(status.signal, null);
  assert.equal(stdout, "");
  assert.equal(stderr, "");
});

Deno.test("cli.ts stops on SIGINT with code 0, its connections closed", async () => {
  await using cli = await startCli([]);
  await using master = await Container.create(LOCAL);
  const proxy = await master.connect<Manager>(cli.ready.manager);
  const [hanger] = await spawn(proxy, spec("Hanger"));
  assert.equal(await hanger.ping(), "pong");
  const pending = hanger.hang();
  // Requests start in order: once ping is answered, hang is being served,
  // so the clean shutdown waits for it (up to the channel's close timeout).
  assert.equal(await hanger.ping(), "pong");
  cli.child.kill("SIGINT");
  await assert.rejects(pending, { name: "ConnectionClosedError" });
  const { status, stderr } = await cli.finish();
  assert.equal(status.code, 0);
  assert.equal(stderr, "");
});

Deno.test("cli.ts exits with code 0 after the manager's stop()", async () => {
  await using cli = await startCli(["--addr", "127.0.0.1:0"]);
  {
    await using master = await Container.create(LOCAL);
    const proxy = await master.connect<Manager>(cli.ready.manager);
    assert.equal(await proxy.stop(), null);
  }
  const { status, stdout, stderr } = await cli.finish();
  assert.equal(status.code, 0);
  assert.equal(stdout, "");
  assert.equal(stderr, "");
});

Deno.test("cli.ts with msgpack and an external clock", async () => {
  await using cli = await startCli([
    "--codec",
    "msgpack",
    "--clock",
    "external",
    "--start",
    "2016-01-01T00:00:00+00:00",
  ]);
  await using master = await Container.create(LOCAL, { codec: MsgPackCodec });
  const proxy = await master.connect<Manager>(cli.ready.manager);
  const [sleeper] = await spawn(proxy, spec("Sleeper"));
  const woken = sleeper.sleep(2);
  await proxy.set_time(2.5);
  assert.deepEqual(await woken, [2.5, "2016-01-01T00:00:02.500Z"]);
  await assert.rejects(proxy.set_time(1), { remoteName: "RangeError" });
  assert.equal(await proxy.stop(), null);
  assert.equal((await cli.finish()).status.code, 0);
});

Deno.test("cli.ts on a Unix socket, with --base for relative specs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "aiomas-cli-test-" });
  try {
    const path = `${dir}/managed.sock`;
    await using cli = await startCli([
      "--addr",
      `unix:${path}`,
      "--base",
      new URL("./fixtures/agents/", import.meta.url).href,
    ], ["--allow-write"]); // Listening on a Unix socket creates a file.
    assert.deepEqual(cli.ready, {
      addr: `ipc://[${path}]/`,
      manager: `ipc://[${path}]/0`,
    });
    {
      await using master = await Container.create(LOCAL);
      const proxy = await master.connect<Manager>(cli.ready.manager);
      const [agent] = await spawn(proxy, "./agents.ts#Echo", "ipc:");
      assert.equal(await agent.echo(2), "ipc:2");
    }
    cli.child.kill("SIGTERM");
    assert.equal((await cli.finish()).status.code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli.ts with mutual TLS", async () => {
  const file = (name: string) =>
    fileURLToPath(new URL(`./fixtures/tls-agent/${name}`, import.meta.url));
  await using cli = await startCli([
    "--tls-cert",
    file("container.pem"),
    "--tls-key",
    file("container.key"),
    "--tls-ca",
    file("ca.pem"),
  ]);
  {
    await using master = await Container.create(LOCAL, {
      tls: {
        cert: readTls("container.pem"),
        key: readTls("container.key"),
        caCerts: [readTls("ca.pem")],
      },
    });
    const proxy = await master.connect<Manager>(cli.ready.manager);
    const [agent] = await spawn(proxy, spec("Echo"), "tls:");
    assert.equal(await agent.echo(3), "tls:3");
  }
  cli.child.kill("SIGTERM");
  assert.equal((await cli.finish()).status.code, 0);
});

Deno.test("cli.ts --init-time -1 lets a master set the time to 0 first, as aiomas does", async () => {
  await using cli = await startCli([
    "--clock",
    "external",
    "--start",
    "2016-01-01T00:00:00+00:00",
    // A negative value needs the "=" form (node:util parseArgs).
    "--init-time=-1",
  ]);
  await using master = await Container.create(LOCAL);
  const proxy = await master.connect<Manager>(cli.ready.manager);
  assert.equal(await proxy.set_time(0), null);
  await assert.rejects(proxy.set_time(0), { remoteName: "RangeError" });
  assert.equal(await proxy.stop(), null);
  assert.equal((await cli.finish()).status.code, 0);
});

Deno.test("cli.ts --addr takes the shared address grammar: host:port is TCP, never a file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "aiomas-cli-test-" });
  try {
    // Run in a directory where a socket file named like the address would show.
    const { child, firstLine, finish } = runCli(
      ["--addr", "tcp://127.0.0.1:0"],
      ["--allow-write"],
      dir,
    );
    try {
      const ready = JSON.parse(await firstLine ?? "null");
      assert.match(ready.addr, /^tcp:\/\/127\.0\.0\.1:[1-9]\d*\/$/);
    } finally {
      child.kill("SIGTERM");
      assert.equal((await finish()).status.code, 0);
    }
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli.ts --serializers: a custom type travels to and from its agents", async () => {
  const types = new URL("./agent/_types.ts", import.meta.url).href;
  await using cli = await startCli(["--serializers", `${types}#serializers`]);
  assert.deepEqual(cli.ready.serializers, ["Pt"]);
  const { Pt, serializers } = await import("./agent/_types.ts");
  {
    await using master = await Container.create(LOCAL, { serializers });
    const proxy = await master.connect<Manager>(cli.ready.manager);
    const [mover] = await spawn(proxy, `${types}#Mover`);
    const moved = await mover.move(new Pt(1, 2), 3);
    assert.ok(moved instanceof Pt);
    assert.deepEqual(moved, new Pt(4, 2));
  }
  cli.child.kill("SIGTERM");
  assert.equal((await cli.finish()).status.code, 0);
});

Deno.test("cli.ts --allow-spawn: only modules under the given prefixes are spawned", async () => {
  const fixtures = new URL("./fixtures/agents/", import.meta.url).href;
  const types = new URL("./agent/_types.ts", import.meta.url).href;
  const elsewhere = new URL("./elsewhere/", import.meta.url).href;
  await using cli = await startCli([
    "--allow-spawn",
    elsewhere,
    "--allow-spawn",
    fixtures,
  ]);
  {
    await using master = await Container.create(LOCAL);
    const proxy = await master.connect<Manager>(cli.ready.manager);
    const [agent] = await spawn(proxy, spec("Echo"), "ok:");
    assert.equal(await agent.echo(1), "ok:1");
    // Under the working directory, but not under a given prefix.
    await assert.rejects(spawn(proxy, `${types}#Mover`), {
      name: "RemoteError",
      remoteName: "NotCapable",
    });
  }
  cli.child.kill("SIGTERM");
  assert.equal((await cli.finish()).status.code, 0);
});

Deno.test("cli.ts --exit-with-stdin exits when stdin ends while it still starts (its serializers module hanging)", async () => {
  const serializers = new URL(
    "./fixtures/agents/hanging_serializers.ts#serializers",
    import.meta.url,
  ).href;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      CLI,
      "--addr",
      "127.0.0.1:0",
      "--serializers",
      serializers,
      "--exit-with-stdin",
    ],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    // As when the parent dies: the end of the pipe it held.
    await child.stdin.close();
    const status = await within(20_000, "the child's exit", child.status);
    assert.equal(status.code, 1);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Exited.
    }
    await child.status;
  }
});

Deno.test("main() with --exit-with-stdin that fails to start leaves its caller running, with stdin free", async () => {
  const script = `
    import { main } from ${
    JSON.stringify(new URL("../cli.ts", import.meta.url).href)
  };
    try {
      await main(["--addr", "127.0.0.1:0", "--exit-with-stdin",
        "--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"]);
    } catch (error) {
      console.log("caught", error.name);
    }
    for await (const _ of Deno.stdin.readable) {
      // Read to its end, as the caller's own code may.
    }
    console.log("alive");
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    const first = await within(20_000, "main's failure", reader.read());
    assert.equal(first.value, "caught NotFound\n");
    await child.stdin.close();
    let rest = "";
    for (;;) {
      const { value, done } = await within(20_000, "the rest", reader.read());
      if (done) break;
      rest += value;
    }
    const { code } = await child.status;
    assert.deepEqual([rest, code], ["alive\n", 0]);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Exited.
    }
    await reader.cancel().catch(() => {});
    await child.stderr.cancel();
    await child.status;
  }
});
