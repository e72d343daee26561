import assert from "node:assert/strict";
import {
  type Address,
  formatAddress,
  parseAddress,
  type ParsedAddress,
} from "../../channel/address.ts";

const tcp = (hostname: string, port: number): ParsedAddress => ({
  transport: "tcp",
  hostname,
  port,
});
const unix = (path: string): ParsedAddress => ({ transport: "unix", path });

Deno.test("parseAddress: TCP strings", () => {
  const table: [string, ParsedAddress][] = [
    ["127.0.0.1:5555", tcp("127.0.0.1", 5555)],
    ["localhost:5555", tcp("localhost", 5555)],
    ["agents.example.org:80", tcp("agents.example.org", 80)],
    ["0.0.0.0:0", tcp("0.0.0.0", 0)],
    ["127.0.0.1:65535", tcp("127.0.0.1", 65535)],
    ["tcp://127.0.0.1:5555", tcp("127.0.0.1", 5555)],
    // An aiomas container address.
    ["tcp://127.0.0.1:5555/", tcp("127.0.0.1", 5555)],
    ["TCP://localhost:1", tcp("localhost", 1)],
    ["[::1]:5555", tcp("::1", 5555)],
    ["tcp://[::1]:5555", tcp("::1", 5555)],
    ["[fe80::1%eth0]:22", tcp("fe80::1%eth0", 22)],
    ["[::ffff:127.0.0.1]:8", tcp("::ffff:127.0.0.1", 8)],
  ];
  for (const [input, expected] of table) {
    assert.deepEqual(parseAddress(input), expected, input);
  }
});

Deno.test("parseAddress: Unix strings", () => {
  const table: [string, ParsedAddress][] = [
    ["unix:/tmp/agents.sock", unix("/tmp/agents.sock")],
    ["unix:relative.sock", unix("relative.sock")],
    ["unix:dir/relative.sock", unix("dir/relative.sock")],
    ["unix:///tmp/agents.sock", unix("/tmp/agents.sock")],
    // A colon in a path is just a character.
    ["unix:/tmp/127.0.0.1:5555", unix("/tmp/127.0.0.1:5555")],
  ];
  for (const [input, expected] of table) {
    assert.deepEqual(parseAddress(input), expected, input);
  }
});

Deno.test("parseAddress: objects and tuples", () => {
  assert.deepEqual(
    parseAddress({ hostname: "127.0.0.1", port: 5555 }),
    tcp("127.0.0.1", 5555),
  );
  assert.deepEqual(parseAddress(["127.0.0.1", 0]), tcp("127.0.0.1", 0));
  assert.deepEqual(parseAddress(["::1", 1]), tcp("::1", 1));
  assert.deepEqual(parseAddress(["[::1]", 1]), tcp("::1", 1));
  assert.deepEqual(parseAddress({ path: "/tmp/a.sock" }), unix("/tmp/a.sock"));
  // Parsed addresses and Deno's own address objects parse as themselves.
  for (const parsed of [tcp("127.0.0.1", 7), unix("x.sock")]) {
    assert.deepEqual(parseAddress(parsed as Address), parsed);
  }
  const netAddr: Deno.NetAddr = {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 9,
  };
  assert.deepEqual(parseAddress(netAddr), tcp("127.0.0.1", 9));
});

Deno.test("parseAddress: anything else is a TypeError that quotes it and lists the forms", () => {
  const bad: unknown[] = [
    "",
    "127.0.0.1",
    "localhost",
    "127.0.0.1:5555x",
    "127.0.0.1:",
    ":5555",
    "127.0.0.1:70000",
    "127.0.0.1:-1",
    "127.0.0.1:1.5",
    "127.0.0.1: 5555",
    " 127.0.0.1:5555",
    "::1:5555",
    "[::1]",
    "[nonsense]:5",
    "[::1]:5555x",
    "http://127.0.0.1:5555",
    "ipc:///tmp/x.sock",
    "tcp:127.0.0.1:5555",
    "tcp://127.0.0.1",
    "tcp://127.0.0.1:5555/aid",
    "tcp://user@host:5",
    "/tmp/x.sock",
    "./x.sock",
    "agents.sock",
    "unix:",
    "unix://host/x.sock",
    "unix://",
    { port: 5555 },
    { hostname: "", port: 1 },
    { hostname: "127.0.0.1", port: -1 },
    { hostname: "127.0.0.1", port: 1.5 },
    { hostname: "127.0.0.1", port: 65536 },
    { hostname: "127.0.0.1", port: "5555" },
    { hostname: "127.0.0.1", port: NaN },
    { hostname: "127.0.0.1", port: 1, path: "/x" },
    { hostname: "127.0.0.1", port: 1, transport: "udp" },
    { path: "" },
    { path: 5 },
    { path: "/x", transport: "tcp" },
    ["127.0.0.1"],
    ["127.0.0.1", 1, 2],
    [1, 2],
    ["127.0.0.1", "1"],
    null,
    undefined,
    5555,
  ];
  for (const input of bad) {
    assert.throws(() => parseAddress(input as Address), (error) => {
      assert.ok(error instanceof TypeError, `${String(input)}: ${error}`);
      const quoted = JSON.stringify(input) ?? String(input);
      assert.ok(
        error.message.startsWith(`Invalid address ${quoted}: `),
        error.message,
      );
      assert.match(
        error.message,
        /accepted forms: "host:port", "tcp:\/\/host:port", "\[::1\]:port", "unix:\/path\/to.sock", \{ hostname, port \}, \["host", port\], \{ path \}$/,
      );
      return true;
    });
  }
});

Deno.test("parseAddress: a bare path gets a hint at the Unix forms", () => {
  assert.throws(
    () => parseAddress("/tmp/x.sock"),
    {
      name: "TypeError",
      message:
        /^Invalid address "\/tmp\/x.sock": a Unix socket is written "unix:\/tmp\/x.sock" or \{ path: "\/tmp\/x.sock" \}/,
    },
  );
  assert.throws(() => parseAddress("::1:5555"), /must be in brackets/);
  assert.throws(() => parseAddress("127.0.0.1"), /the port is missing/);
  assert.throws(() => parseAddress("http://a:1"), /scheme "http:"/);
});

Deno.test("parseAddress: a cyclic object still gets a readable error", () => {
  const cyclic: Record<string, unknown> = { port: 1 };
  cyclic.self = cyclic;
  assert.throws(() => parseAddress(cyclic as never), TypeError);
});

Deno.test("formatAddress: reads back with parseAddress", () => {
  const table: [ParsedAddress, string][] = [
    [tcp("127.0.0.1", 5555), "127.0.0.1:5555"],
    [tcp("localhost", 0), "localhost:0"],
    [tcp("::1", 5555), "[::1]:5555"],
    [unix("/tmp/x.sock"), "unix:/tmp/x.sock"],
    [unix("x.sock"), "unix:x.sock"],
    [unix("//tmp/x.sock"), "unix:////tmp/x.sock"],
  ];
  for (const [parsed, text] of table) {
    assert.equal(formatAddress(parsed), text);
    assert.deepEqual(parseAddress(text), parsed, text);
  }
});
