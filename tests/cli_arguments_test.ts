// cli.ts's arguments: usage, bad arguments and exit codes.
import assert from "node:assert/strict";
import { main } from "../cli.ts";
import { LOCAL, runCli } from "./_cli.ts";

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
      // Ignored before: the container ran on a realtime clock.
      [["--start", "2016-01-01"], "they need --clock external"],
      [["--init-time=-1"], "they need --clock external"],
      [
        ["--clock", "realtime", "--start", "2016-01-01", "--init-time=-1"],
        "they need --clock external",
      ],
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
