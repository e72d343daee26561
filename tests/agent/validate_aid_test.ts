// What a container keeps of a peer container's answers to validate_aid:
// a hostile or broken peer answers with what it likes, for as many agent
// ids as it is asked about.
import assert from "node:assert/strict";
import { collectGarbage } from "../_collect.ts";
import { Container, ProtocolError } from "../../mod.ts";
import { MAX_CLASS_NAME } from "../../agent/_agent_classes.ts";
import { expose, type RpcServer, startServer } from "../../rpc/mod.ts";

const LOCAL = { hostname: "127.0.0.1", port: 0 };

/** A fake container: answers every validate_aid with `answer`, counting the questions by aid. */
class FakeContainer {
  asked = new Map<string, number>();
  constructor(public answer: unknown) {}

  @expose
  validate_aid(aid: string): unknown {
    this.asked.set(aid, (this.asked.get(aid) ?? 0) + 1);
    return this.answer;
  }
}

function urlOf(server: RpcServer, aid: string): string {
  const { hostname, port } = server.addr as { hostname: string; port: number };
  return `tcp://${hostname}:${port}/${aid}`;
}

Deno.test("validate_aid: an over-long class name is clipped in the proxy's label", async () => {
  const huge = "K".repeat(2 * 1024 * 1024);
  await using server = await startServer(LOCAL, new FakeContainer(huge));
  await using me = await Container.create(LOCAL);
  const url = urlOf(server, "0");
  const label = String(await me.connect(url));
  assert.ok(
    label.startsWith(`${"K".repeat(MAX_CLASS_NAME)}… (2097152 characters)`),
    label.slice(MAX_CLASS_NAME - 10, MAX_CLASS_NAME + 40),
  );
  assert.ok(label.endsWith(`Proxy('${url}')`), label.slice(-80));
  assert.ok(label.length < MAX_CLASS_NAME + 100, `${label.length} characters`);
  // Nor is the whole name kept behind the clipped one: 16 agents' names
  // would be 32 MiB.
  await collectGarbage();
  const before = Deno.memoryUsage().heapUsed;
  for (let i = 1; i <= 16; i++) await me.connect(urlOf(server, `${i}`));
  await collectGarbage();
  const grown = Deno.memoryUsage().heapUsed - before;
  assert.ok(grown < 8 * 1024 * 1024, `the heap grew by ${grown} bytes`);
});

Deno.test("validate_aid: an answer that is neither a string nor null is a ProtocolError naming the peer", async () => {
  await using server = await startServer(LOCAL, new FakeContainer(42));
  await using me = await Container.create(LOCAL);
  const url = urlOf(server, "0");
  const container = url.slice(0, url.lastIndexOf("/") + 1);
  await assert.rejects(me.connect(url), (error) => {
    assert.ok(error instanceof ProtocolError, String(error));
    assert.equal(
      error.message,
      `Container ${container} answered validate_aid("0") with 42, not an agent class name (a string) or null`,
    );
    return true;
  });
});

Deno.test("validate_aid: every connect asks (an agent may come and go); concurrent connects to one agent share one question", async () => {
  const fake = new FakeContainer("Agent");
  await using server = await startServer(LOCAL, fake);
  await using me = await Container.create(LOCAL);
  await me.connect(urlOf(server, "0"));
  await me.connect(urlOf(server, "0"));
  assert.equal(fake.asked.get("0"), 2);
  await Promise.all(
    Array.from({ length: 8 }, () => me.connect(urlOf(server, "1"))),
  );
  assert.equal(fake.asked.get("1"), 1);
  // Nor after many other agents were asked about.
  await Promise.all(
    Array.from({ length: 1000 }, (_, i) => me.connect(urlOf(server, `${i}`))),
  );
  assert.equal(fake.asked.get("0"), 3);
  fake.answer = null;
  await assert.rejects(me.connect(urlOf(server, "0")), (error: unknown) => {
    assert.ok(error instanceof Error && error.name === "LookupError");
    return true;
  });
});
