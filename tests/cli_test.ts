import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  Container,
  type DynamicRemote,
  type Manager,
  MsgPackCodec,
} from "../mod.ts";
import { main } from "../cli.ts";

const LOCAL = { hostname: "127.0.0.1", port: 0 };
const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));
const AGENTS_URL = new URL("./fixtures/agents/agents.ts", import.meta.url);
const spec = (name: string) => `${AGENTS_URL.href}#${name}`;

function readTls(name: string): string {
  return Deno.readTextFileSync(
    fileURLToPath(new URL(`./fixtures/tls-agent/${name}`, import.meta.url)),
  );
}

/** Calls `spawn` through a manager proxy; the agent arrives as a proxy. */
async function spawn(
  manager: { spawn(spec: string, ...args: unknown[]): Promise<unknown> },
  spec: string,
  ...args: unknown[]
): Promise<[DynamicRemote, string]> {
  return await manager.spawn(spec, ...args) as [DynamicRemote, string];
}

interface Finished {
  status: Deno.CommandStatus;
  /** Standard output after the ready line. */
  stdout: string;
  stderr: string;
}

/** `cli.ts` running in a subprocess; disposing kills it if it still runs. */
interface Cli extends AsyncDisposable {
  child: Deno.ChildProcess;
  ready: { addr: string; manager: string; serializers?: string[] };
  /** Waits for the exit and collects the rest of the output. */
  finish(): Promise<Finished>;
}

/**
 * Runs `deno run --allow-net --allow-read ...flags cli.ts ...args` and
 * reads its first line.
 */
function runCli(args: string[], flags: string[] = [], cwd?: string): {
  child: Deno.ChildProcess;
  firstLine: Promise<string | null>;
  finish(): Promise<Finished>;
} {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", ...flags, CLI, ...args],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let buffered = "";
  const firstLine = (async () => {
    for (;;) {
      const newline = buffered.indexOf("\n");
      if (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        return line;
      }
      const { value, done } = await reader.read();
      if (done) return null;
      buffered += value;
    }
  })();
  let finished: Promise<Finished> | undefined;
  const finish = () =>
    finished ??= (async () => {
      await firstLine;
      let stdout = buffered;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        stdout += value;
      }
      return { status: await child.status, stdout, stderr: await stderr };
    })();
  return { child, firstLine, finish };
}

/** Starts `cli.ts` and waits for its ready line. */
async function startCli(args: string[], flags: string[] = []): Promise<Cli> {
  const { child, firstLine, finish } = runCli(args, flags);
  const kill = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // It has exited already.
    }
    return await finish();
  };
  const line = await firstLine;
  if (line === null) {
    const { status, stderr } = await finish();
    throw new Error(`cli.ts exited (${status.code}) early: ${stderr}`);
  }
  let ready;
  try {
    ready = JSON.parse(line);
  } catch (error) {
    await kill();
    throw error;
  }
  return { child, ready, finish, [Symbol.asyncDispose]: () => kill().then() };
}

// --- Arguments ---------------------------------------------------------------

Deno.test("main() refuses bad arguments with a TypeError and the usage", async () => {
  for (
    const [args, message] of [
      [["--codec", "yaml"], 'Unknown codec "yaml"'],
      // Not an own property: inherited names are no codecs.
      [["--codec", "toString"], 'Unknown codec "toString"'],
      [["--codec", "__proto__"], 'Unknown codec "__proto__"'],
      [["--clock", "wall"], 'Unknown clock "wall"'],
      [["--max-frame-size", "0"], 'Invalid --max-frame-size "0"'],
      [["--max-frame-size", "16M"], 'Invalid --max-frame-size "16M"'],
      [["--clock", "external"], "--clock external needs --start"],
      [
        ["--clock", "external", "--start", "yesterday"],
        'Invalid --start date "yesterday"',
      ],
      [
        ["--clock", "external", "--start", "2016-01-01", "--init-time", "soon"],
        'Invalid --init-time "soon"',
      ],
      [["--tls-cert", "c.pem"], "--tls-cert and --tls-key go together"],
      [["--tls-key", "c.key"], "--tls-cert and --tls-key go together"],
      [["--tls-ca", "ca.pem"], "--tls-ca needs --tls-cert and --tls-key"],
      [["--addr", "127.0.0.1"], 'Invalid --addr "127.0.0.1"'],
      [["--addr", "127.0.0.1:"], 'Invalid --addr "127.0.0.1:"'],
      [["--addr", "127.0.0.1:http"], 'Invalid --addr "127.0.0.1:http"'],
      [["--addr", "127.0.0.1:0x10"], 'Invalid --addr "127.0.0.1:0x10"'],
      [["--addr", "127.0.0.1:65536"], 'Invalid --addr "127.0.0.1:65536"'],
      [["--addr", ":5555"], 'Invalid --addr ":5555"'],
      // A bare path is not a Unix socket: that needs "unix:".
      [["--addr", "/tmp/x.sock"], 'Invalid --addr "/tmp/x.sock"'],
      [["--addr", "/tmp/x.sock"], 'written "unix:/tmp/x.sock"'],
      [["--addr", "udp://127.0.0.1:1"], "accepted forms"],
      [["--serializers", "no-hash.ts"], 'expected "<module>#<ExportName>"'],
      [["--help=yes"], "--help"],
      [["--addr"], "--addr"],
      [["--bogus"], "--bogus"],
      [["stray"], "stray"],
    ] as const
  ) {
    await assert.rejects(main([...args]), (error) => {
      assert.ok(error instanceof TypeError, String(error));
      assert.ok(error.message.includes(message), error.message);
      if (args[0] !== "--serializers") {
        assert.ok(error.message.includes("Usage: cli.ts"), error.message);
      }
      return true;
    }, args.join(" "));
  }
});

Deno.test("cli.ts --help prints every option and exits with code 0", async () => {
  for (const flag of ["--help", "-h"]) {
    const { firstLine, finish } = runCli([flag]);
    assert.match(await firstLine ?? "", /^Usage: cli\.ts/);
    const { status, stdout, stderr } = await finish();
    assert.equal(status.code, 0);
    assert.equal(stderr, "");
    for (
      const option of [
        "--addr",
        "--codec",
        "--serializers",
        "--allow-spawn",
        "--base",
        "--clock",
        "--start",
        "--init-time",
        "--tls-cert",
        "--tls-key",
        "--tls-ca",
        "--help",
      ]
    ) {
      assert.ok(stdout.includes(option), `${option} is not in the usage`);
    }
  }
});

Deno.test("cli.ts with bad arguments exits with code 2 and the usage", async () => {
  const { firstLine, finish } = runCli(["--codec", "yaml"]);
  assert.equal(await firstLine, null);
  const { status, stdout, stderr } = await finish();
  assert.equal(status.code, 2);
  assert.equal(stdout, "");
  assert.match(stderr, /Unknown codec "yaml"\nUsage: cli\.ts/);
});

Deno.test("cli.ts exits with code 2 if its address is taken", async () => {
  using listener = Deno.listen(LOCAL);
  const port = (listener.addr as Deno.NetAddr).port;
  const { firstLine, finish } = runCli(["--addr", `127.0.0.1:${port}`]);
  assert.equal(await firstLine, null);
  const { status, stderr } = await finish();
  assert.equal(status.code, 2);
  assert.match(stderr, /in use/i);
});

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
