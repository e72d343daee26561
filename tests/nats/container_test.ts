// Containers on NATS (`nats://<name>` addresses). These tests need the
// container integration (agent/container.ts, agent/agent_address.ts); until
// it is there they are reported as ignored.
import assert from "node:assert/strict";
import {
  Agent,
  Container,
  type DynamicRemote,
  parseAgentAddress,
} from "../../agent/mod.ts";
import {
  type CodecClass,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
  type SerializerSpec,
} from "../../codecs/mod.ts";
import { ConnectionClosedError } from "../../errors.ts";
import { expose } from "../../rpc/expose.ts";
import { within } from "../_within.ts";
import { NatsCluster, NatsServer } from "./_server.ts";

/** `Container.create` with the `nats` option (typed loosely until it is there). */
const create = Container.create as (
  addr: string | { hostname: string; port: number },
  options?: Record<string, unknown>,
) => Promise<Container>;
const CONTAINER_PROCESS = new URL("./_container_process.ts", import.meta.url);

const ignore = !(() => {
  try {
    return parseAgentAddress("nats://x/0").container === "nats://x/";
  } catch {
    return false;
  }
})();

class Point {
  constructor(public x: number, public y: number) {}
}
const POINT: SerializerSpec = [
  Point,
  (p: Point) => [p.x, p.y],
  (data: unknown) => new Point(...(data as [number, number])),
];

class Peer extends Agent {
  entered = Promise.withResolvers<void>();

  @expose
  echo(value: unknown): unknown {
    return value;
  }

  @expose
  where(): string {
    return this.addr;
  }

  /** Calls an agent that arrived as an argument (a reference). */
  @expose
  async callBack(agent: DynamicRemote, value: unknown): Promise<unknown> {
    return await agent.echo(value);
  }

  /** Connects to `addr` and calls `echo` there. */
  @expose
  async callAddr(addr: string, value: unknown): Promise<unknown> {
    const proxy = await this.container.connect(addr);
    return await proxy.echo(value);
  }

  @expose
  nextDay(date: Date): Date {
    return new Date(date.getTime() + 86_400_000);
  }

  @expose
  mirror(point: Point): Point {
    return new Point(point.y, point.x);
  }

  @expose
  hang(): Promise<never> {
    this.entered.resolve();
    return new Promise<never>(() => {});
  }
}

for (
  const [name, codec] of [
    ["json", JsonCodec],
    ["msgpack", MsgPackCodec],
    ["msgpackblosc", MsgPackBloscCodec],
  ] as [string, CodecClass][]
) {
  Deno.test({
    name:
      `nats:// containers (${name}): calls both ways, references, dates, serializers`,
    ignore,
    fn: async () => {
      await using server = await NatsServer.start();
      const options = {
        codec,
        serializers: [POINT],
        nats: { servers: server.url },
      };
      await using alice = await create("nats://alice", options);
      await using bob = await create("nats://bob", options);
      assert.equal(alice.addr, "nats://alice/");
      const a = new Peer(alice);
      const b = new Peer(bob);
      assert.equal(b.addr, "nats://bob/0");
      const toB = await alice.connect<Peer>(b.addr);
      assert.equal(String(toB), `PeerProxy('nats://bob/0')`);
      assert.equal(await toB.echo("hi"), "hi");
      assert.equal(await toB.where(), "nats://bob/0");
      // Bob calls back the agent Alice passed, over Bob's own session.
      assert.equal(await toB.callBack(a as never, "back"), "back");
      // Bob connects to Alice by address.
      assert.equal(await toB.callAddr(a.addr, 42), 42);
      const day = await toB.nextDay(new Date("2026-01-01T00:00:00Z"));
      assert.ok(day instanceof Date);
      assert.equal(day.toISOString(), "2026-01-02T00:00:00.000Z");
      const point = await toB.mirror(new Point(1, 2));
      assert.ok(point instanceof Point);
      assert.deepEqual([point.x, point.y], [2, 1]);
      const answers = await Promise.all(
        Array.from({ length: 200 }, (_, i) => toB.echo(i)),
      );
      assert.deepEqual(answers, Array.from({ length: 200 }, (_, i) => i));
    },
  });
}

Deno.test({
  name:
    "nats:// containers: a name in use is an error at create; unknown names fail at once",
  ignore,
  fn: async () => {
    await using server = await NatsServer.start();
    const nats = { servers: server.url };
    await using alice = await create("nats://alice", { nats });
    await assert.rejects(
      create("nats://alice", { nats }),
      (error: Error) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, /nats:\/\/alice\/: the name is taken/);
        return true;
      },
    );
    const started = performance.now();
    await assert.rejects(alice.connect("nats://nobody/0"), (error: Error) => {
      assert.ok(error instanceof ConnectionClosedError);
      assert.match(error.message, /no responders/);
      return true;
    });
    assert.ok(performance.now() - started < 1000);
    await assert.rejects(
      create("nats://x y", { nats }),
      TypeError,
    );
  },
});

Deno.test({
  name: "a TCP container reachable over NATS too calls both kinds of address",
  ignore,
  fn: async () => {
    await using server = await NatsServer.start();
    const nats = { servers: server.url };
    await using both = await create(
      { hostname: "127.0.0.1", port: 0 },
      { nats: { ...nats, name: "both" } },
    );
    await using natsOnly = await create("nats://only", { nats });
    await using tcpOnly = await create({
      hostname: "127.0.0.1",
      port: 0,
    });
    const middle = new Peer(both);
    const viaNats = new Peer(natsOnly);
    const viaTcp = new Peer(tcpOnly);
    const [aid] = middle.addr.split("/").slice(-1);
    // Reached at its TCP address and at its NATS name.
    const fromNats = await natsOnly.connect<Peer>(`nats://both/${aid}`);
    assert.equal(await fromNats.echo(1), 1);
    const fromTcp = await tcpOnly.connect<Peer>(middle.addr);
    assert.equal(await fromTcp.echo(2), 2);
    // Its agents call both kinds.
    const self = await both.connect<Peer>(middle.addr);
    assert.equal(await self.callAddr(viaNats.addr, 3), 3);
    assert.equal(await self.callAddr(viaTcp.addr, 4), 4);
  },
});

Deno.test({
  name:
    "3-node cluster: containers on different nodes; the caller's node killed mid-stream",
  ignore,
  fn: async () => {
    await using cluster = await NatsCluster.start();
    const [first, second, third] = cluster.nodes;
    await using callee = await create("nats://callee", {
      nats: { servers: third.url },
    });
    await using caller = await create("nats://caller", {
      nats: {
        servers: [first.url, second.url],
        noRandomize: true,
        reconnectTimeWait: 100,
      },
    });
    const target = new Peer(callee);
    // The callee subscribed on the third node; the caller's node learns of
    // it over a route a little later.
    await first.waitForInterest("aiomas.callee");
    let proxy = await caller.connect<Peer>(target.addr);
    assert.equal(await proxy.echo("before"), "before");
    const outcomes: unknown[] = [];
    // Settles when the stream is under way: at the 200th outcome, or
    // fails if every lane ended before.
    const streaming = Promise.withResolvers<void>();
    const record = (outcome: unknown) => {
      outcomes.push(outcome);
      if (outcomes.length === 200) streaming.resolve();
    };
    let stop = false;
    let running = 16;
    const lanes = Array.from({ length: 16 }, async () => {
      try {
        for (let i = 0; !stop; i++) {
          try {
            record(await proxy.echo(i));
          } catch (error) {
            record(error);
            return;
          }
        }
      } finally {
        if (--running === 0) {
          streaming.reject(
            new Error(`Every lane ended after ${outcomes.length} calls`, {
              cause: outcomes.find((outcome) => outcome instanceof Error),
            }),
          );
        }
      }
    });
    await streaming.promise;
    await first.stop();
    stop = true;
    await Promise.all(lanes);
    for (const outcome of outcomes) {
      if (outcome instanceof Error) {
        assert.ok(outcome instanceof ConnectionClosedError, String(outcome));
      }
    }
    // A new connect works after the reconnection (the old session may be
    // gone with the messages it lost), once the caller's new node has the
    // callee's subscription too.
    await second.waitForInterest("aiomas.callee");
    proxy = await caller.connect<Peer>(target.addr);
    assert.equal(await proxy.echo("after"), "after");
  },
});

Deno.test({
  name:
    "a container process killed with SIGKILL: pending calls reject with ConnectionClosedError within 2 s",
  ignore,
  fn: async () => {
    await using server = await NatsServer.start();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-lock",
        "-A",
        CONTAINER_PROCESS.href,
        server.url,
        "doomed",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream())
        .getReader();
      let text = "";
      while (!text.includes("ready")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`The container process ended: ${text}`);
        text += value;
      }
      reader.releaseLock();
      await using home = await create("nats://home", {
        nats: { servers: server.url },
      });
      const proxy = await home.connect("nats://doomed/0");
      assert.equal(await proxy.ping(), "pong");
      const pending = proxy.hang();
      pending.catch(() => {});
      const started = performance.now();
      child.kill("SIGKILL");
      await assert.rejects(pending, ConnectionClosedError);
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 2000, `took ${elapsed} ms`);
      // The name is free again: connecting says so at once.
      await assert.rejects(home.connect("nats://doomed/0"), /no responders/);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // Killed already.
      }
      await child.status;
      await child.stdout.cancel().catch(() => {});
    }
  },
});

Deno.test({
  name:
    "nats:// containers: a connect without retry fails at a retrying dial's next no-responders; one with retry that joined a single attempt dials again",
  ignore,
  fn: async () => {
    await using server = await NatsServer.start();
    const nats = { servers: server.url };
    await using alice = await create("nats://alice", { nats });
    const giveUp = new AbortController();
    const retrying = alice.connect("nats://later/0", {
      retry: true,
      signal: giveUp.signal,
    });
    retrying.catch(() => {});
    await within(
      10_000,
      "a connect without retry",
      assert.rejects(alice.connect("nats://later/1"), /no responders/),
    );
    giveUp.abort();
    await assert.rejects(retrying);
    // A single attempt first, then a connect that retries until the name
    // is taken.
    const once = alice.connect("nats://later/0");
    once.catch(() => {});
    const eventually = alice.connect("nats://later/0", {
      retry: true,
      timeout: 20_000,
    });
    await assert.rejects(once, /no responders/);
    await using later = await create("nats://later", { nats });
    new Peer(later);
    const proxy = await within(10_000, "the retrying connect", eventually);
    assert.equal(await (proxy as DynamicRemote).echo(5), 5);
  },
});
