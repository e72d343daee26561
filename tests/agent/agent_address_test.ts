import assert from "node:assert/strict";
import { containerAddress, parseAgentAddress } from "../../agent/mod.ts";

Deno.test("parseAgentAddress: tcp with an IPv4 address", () => {
  assert.deepEqual(parseAgentAddress("tcp://127.0.0.1:5555/0"), {
    scheme: "tcp",
    hostname: "127.0.0.1",
    port: 5555,
    aid: "0",
    container: "tcp://127.0.0.1:5555/",
  });
});

Deno.test("parseAgentAddress: tcp with a host name and a longer aid", () => {
  assert.deepEqual(parseAgentAddress("tcp://localhost:65535/123"), {
    scheme: "tcp",
    hostname: "localhost",
    port: 65535,
    aid: "123",
    container: "tcp://localhost:65535/",
  });
  assert.deepEqual(parseAgentAddress("tcp://example.org:0/7"), {
    scheme: "tcp",
    hostname: "example.org",
    port: 0,
    aid: "7",
    container: "tcp://example.org:0/",
  });
});

Deno.test("parseAgentAddress: tcp with IPv6, bracketed or not", () => {
  assert.deepEqual(parseAgentAddress("tcp://[::1]:5555/0"), {
    scheme: "tcp",
    hostname: "::1",
    port: 5555,
    aid: "0",
    container: "tcp://[::1]:5555/",
  });
  // The host/port split is at the last ":", as in aiomas; the container
  // address is normalized to the bracketed form.
  const bare = parseAgentAddress("tcp://fe80::1:5555/2");
  assert.equal(bare.scheme, "tcp");
  assert.equal(bare.scheme === "tcp" && bare.hostname, "fe80::1");
  assert.equal(bare.container, "tcp://[fe80::1]:5555/");
});

Deno.test("parseAgentAddress: container is normalized", () => {
  // Every spelling of one container maps to the address it reports itself.
  assert.equal(
    parseAgentAddress("tcp://127.0.0.1:05555/0").container,
    "tcp://127.0.0.1:5555/",
  );
  assert.equal(
    parseAgentAddress("ipc:///tmp/a.sock/0").container,
    parseAgentAddress("ipc://[/tmp/a.sock]/1").container,
  );
});

Deno.test("parseAgentAddress: ipc with and without brackets", () => {
  const expected = {
    scheme: "ipc",
    path: "/tmp/dir/agents.sock",
    aid: "3",
    container: "ipc://[/tmp/dir/agents.sock]/",
  };
  assert.deepEqual(
    parseAgentAddress("ipc://[/tmp/dir/agents.sock]/3"),
    expected,
  );
  assert.deepEqual(parseAgentAddress("ipc:///tmp/dir/agents.sock/3"), expected);
  // A relative path works too.
  const relative = parseAgentAddress("ipc://[a.sock]/0");
  assert.equal(relative.scheme === "ipc" && relative.path, "a.sock");
});

Deno.test("parseAgentAddress: local", () => {
  assert.deepEqual(parseAgentAddress("local://sim/42"), {
    scheme: "local",
    name: "sim",
    aid: "42",
    container: "local://sim/",
  });
});

/** Asserts that parsing `url` throws a TypeError whose message names `url` and `problem`. */
function assertInvalid(url: string, problem: RegExp): void {
  assert.throws(
    () => parseAgentAddress(url),
    (error: unknown) => {
      assert.ok(error instanceof TypeError, `${url}: ${error}`);
      assert.ok(
        error.message.includes(JSON.stringify(url)),
        `${url}: the message does not name the address: ${error.message}`,
      );
      assert.match(error.message, problem, url);
      return true;
    },
  );
}

Deno.test("parseAgentAddress: no scheme", () => {
  assertInvalid("127.0.0.1:5555/0", /<scheme>:\/\//);
  assertInvalid("", /<scheme>:\/\//);
});

Deno.test("parseAgentAddress: unknown scheme", () => {
  assertInvalid("udp://127.0.0.1:5555/0", /unknown scheme "udp"/);
  assertInvalid("TCP://127.0.0.1:5555/0", /unknown scheme "TCP"/);
  assertInvalid("://127.0.0.1:5555/0", /unknown scheme ""/);
});

Deno.test("parseAgentAddress: empty or missing agent id", () => {
  assertInvalid("tcp://127.0.0.1:5555/", /agent id is empty/);
  assertInvalid("ipc://[/tmp/a.sock]/", /agent id is empty/);
  assertInvalid("local://sim/", /agent id is empty/);
  assertInvalid("tcp://127.0.0.1:5555", /"\/<aid>"/);
});

Deno.test("parseAgentAddress: missing port", () => {
  assertInvalid("tcp://127.0.0.1/0", /port is missing/);
  assertInvalid("tcp://localhost/0", /port is missing/);
  assertInvalid("tcp://127.0.0.1:/0", /invalid port ""/);
});

Deno.test("parseAgentAddress: non-numeric port", () => {
  assertInvalid("tcp://127.0.0.1:http/0", /invalid port "http"/);
  assertInvalid("tcp://127.0.0.1:-1/0", /invalid port "-1"/);
  assertInvalid("tcp://127.0.0.1:1.5/0", /invalid port "1.5"/);
  assertInvalid("tcp://127.0.0.1: 80/0", /invalid port " 80"/);
  // Brackets without a port: the last ":" is inside them.
  assertInvalid("tcp://[::1]/0", /invalid port "1]"/);
});

Deno.test("parseAgentAddress: port above 65535", () => {
  assertInvalid("tcp://127.0.0.1:65536/0", /invalid port "65536"/);
  assertInvalid("tcp://127.0.0.1:99999999999/0", /invalid port/);
});

Deno.test("parseAgentAddress: errors quote the input and list the forms", () => {
  assert.throws(() => parseAgentAddress("127.0.0.1:5555"), {
    name: "TypeError",
    message: 'Invalid agent address "127.0.0.1:5555": expected ' +
      '"<scheme>://…/<aid>"; accepted forms: "tcp://host:port/aid", ' +
      '"tcp://[::1]:port/aid", "ipc://[/path/to.sock]/aid", ' +
      '"local://name/aid", "worker://name/aid", "nats://name/aid"',
  });
});

Deno.test("parseAgentAddress: nats", () => {
  assert.deepEqual(parseAgentAddress("nats://sim-1/0"), {
    scheme: "nats",
    name: "sim-1",
    aid: "0",
    container: "nats://sim-1/",
  });
  assert.equal(
    parseAgentAddress("nats://site_1.sim-3/12").container,
    "nats://site_1.sim-3/",
  );
  const invalid = /invalid NATS name/;
  for (
    const url of [
      "nats://a b/0",
      "nats://a.*/0",
      "nats://a.>/0",
      "nats://a..b/0",
      "nats://.a/0",
      "nats://a./0",
      `nats://${"x".repeat(201)}/0`,
    ]
  ) {
    assertInvalid(url, invalid);
  }
  assert.equal(
    parseAgentAddress(`nats://${"x".repeat(200)}/0`).container.length,
    208,
  );
  assertInvalid("nats://a/b/0", invalid);
  assertInvalid("nats:///0", /container location is empty/);
  assertInvalid("nats://a/", /agent id is empty/);
});

Deno.test("parseAgentAddress: the host as the shared address grammar takes it", () => {
  assertInvalid("tcp://exa mple:5555/0", /"exa mple" is not a host name/);
  assertInvalid("tcp://[not-v6]:5555/0", /"not-v6" is not an IPv6 address/);
  assertInvalid("tcp://a/b:5555/0", /"a\/b" is not a host name/);
});

Deno.test("parseAgentAddress: empty host", () => {
  assertInvalid("tcp://:5555/0", /host is empty/);
  assertInvalid("tcp://[]:5555/0", /host is empty/);
  assertInvalid("tcp:///0", /container location is empty/);
});

Deno.test("parseAgentAddress: empty socket path or local name", () => {
  assertInvalid("ipc://[]/0", /socket path is empty/);
  assertInvalid("ipc:///0", /container location is empty/);
  assertInvalid("local:///0", /container location is empty/);
});

Deno.test("parseAgentAddress: not a string", () => {
  assert.throws(
    () => parseAgentAddress(5555 as unknown as string),
    { name: "TypeError", message: /not a string/ },
  );
});

Deno.test("containerAddress: every form", () => {
  assert.equal(containerAddress({ nats: "a.b" }), "nats://a.b/");
  assert.equal(
    containerAddress({ hostname: "127.0.0.1", port: 5555 }),
    "tcp://127.0.0.1:5555/",
  );
  assert.equal(
    containerAddress({ hostname: "localhost", port: 0 }),
    "tcp://localhost:0/",
  );
  assert.equal(
    containerAddress({ hostname: "::1", port: 5555 }),
    "tcp://[::1]:5555/",
  );
  assert.equal(
    containerAddress({ path: "/tmp/a.sock" }),
    "ipc://[/tmp/a.sock]/",
  );
  assert.equal(containerAddress({ name: "sim" }), "local://sim/");
});

Deno.test("containerAddress and parseAgentAddress agree", () => {
  for (
    const addr of [
      { hostname: "127.0.0.1", port: 5555 },
      { hostname: "::1", port: 1 },
      { path: "/tmp/x y/agents.sock" },
      { name: "sim" },
    ]
  ) {
    const base = containerAddress(addr);
    const parsed = parseAgentAddress(`${base}7`);
    assert.equal(parsed.container, base);
    assert.equal(parsed.aid, "7");
    assert.deepEqual(
      { ...parsed, scheme: undefined, aid: undefined, container: undefined },
      { ...addr, scheme: undefined, aid: undefined, container: undefined },
    );
  }
});
