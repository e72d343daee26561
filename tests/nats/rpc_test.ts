import assert from "node:assert/strict";
import {
  type CodecClass,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
  type SerializerSpec,
} from "../../codecs/mod.ts";
import { ConnectionClosedError } from "../../errors.ts";
import { connectNats, serveNats } from "../../nats/mod.ts";
import { expose } from "../../rpc/expose.ts";
import { withOptions } from "../../rpc/with_options.ts";
import type { RpcClient } from "../../rpc/rpc_client.ts";
import { ServiceDict } from "../../rpc/service_dict.ts";
import { within } from "../_within.ts";
import { NatsServer } from "./_server.ts";

class Point {
  constructor(readonly x: number, readonly y: number) {}
}
const POINT: SerializerSpec = [
  Point,
  (p: Point) => [p.x, p.y],
  (data: unknown) => new Point(...(data as [number, number])),
];

class Calculator {
  @expose
  add(a: number, b: number): number {
    return a + b;
  }
  @expose
  async slow(value: unknown): Promise<unknown> {
    await Promise.resolve();
    return value;
  }
  @expose
  hang(): Promise<never> {
    return new Promise<never>(() => {});
  }
  @expose
  mirror(point: Point): Point {
    return new Point(point.y, point.x);
  }
  @expose
  fail(message: string): never {
    throw new RangeError(message);
  }
  @expose
  async callBack(callee: { echo(v: string): Promise<string> }, v: string) {
    return await callee.echo(v);
  }
}

class Client {
  @expose
  echo(value: string): string {
    return `client:${value}`;
  }
}

for (
  const [name, codec] of [
    ["json", JsonCodec],
    ["msgpack", MsgPackCodec],
    ["msgpackblosc", MsgPackBloscCodec],
  ] as [string, CodecClass][]
) {
  Deno.test(`serveNats/connectNats (${name}): calls, errors, serializers, references both ways`, async () => {
    await using server = await NatsServer.start();
    const nats = { servers: server.url };
    const serializers = [POINT];
    let onServer: RpcClient | undefined;
    await using _service = await serveNats(new Calculator(), {
      nats,
      subject: "calc",
      codec,
      serializers,
      onConnection: (client) => onServer = client,
    });
    const mine = new Client();
    await using client = await connectNats<Calculator>("calc", {
      nats,
      codec,
      serializers,
      service: mine,
    });
    assert.equal(await client.remote.add(3, 4), 7);
    assert.deepEqual(
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => client.remote.slow(i)),
      ),
      Array.from({ length: 100 }, (_, i) => i),
    );
    const mirrored = await client.remote.mirror(new Point(1, 2));
    assert.ok(mirrored instanceof Point);
    assert.deepEqual([mirrored.x, mirrored.y], [2, 1]);
    await assert.rejects(client.remote.fail("no"), {
      name: "RemoteError",
      remoteName: "RangeError",
      remoteMessage: "no",
    });
    // Per-call bounds, as with rpc.openConnection.
    await assert.rejects(withOptions(client.remote, { timeout: 50 }).hang(), {
      name: "TimeoutError",
    });
    await assert.rejects(client.call("hang", [], undefined, { timeout: 50 }), {
      name: "TimeoutError",
    });
    // The server calls the client back on the same session, and a
    // service passed as an argument arrives as a proxy that calls back.
    assert.equal(
      await (onServer!.remote as unknown as Client).echo("x"),
      "client:x",
    );
    assert.equal(
      await client.remote.callBack(mine as never, "y"),
      "client:y",
    );
    // A large argument is split at max_payload and put together again.
    if (codec !== JsonCodec) {
      const big = new Uint8Array(3 * 1024 * 1024 + 7).fill(9);
      const back = await client.remote.slow(big) as Uint8Array;
      assert.equal(back.length, big.length);
      assert.ok(back.every((b) => b === 9));
    } else {
      const big = "x".repeat(3 * 1024 * 1024 + 7);
      assert.equal(await client.remote.slow(big), big);
    }
  });
}

Deno.test("connectNats: nobody serves the subject → ConnectionClosedError at once (no responders)", async () => {
  await using server = await NatsServer.start();
  const started = performance.now();
  await assert.rejects(
    connectNats("nobody", { nats: { servers: server.url } }),
    (error: Error) => {
      assert.ok(error instanceof ConnectionClosedError);
      assert.match(error.message, /nobody listens there \(no responders\)/);
      return true;
    },
  );
  assert.ok(performance.now() - started < 1000);
});

Deno.test("connectNats: after the server goes, calls reject; the next call finds a new server", async () => {
  await using server = await NatsServer.start();
  const nats = { servers: server.url };
  const first = await serveNats(new ServiceDict({ who: () => "first" }), {
    nats,
    subject: "svc",
  });
  await using client = await connectNats<{ who(): string }>("svc", { nats });
  assert.equal(await client.remote.who(), "first");
  await first.close();
  await assert.rejects(client.remote.who(), ConnectionClosedError);
  await assert.rejects(client.remote.who(), /no responders/);
  await using _second = await serveNats(
    new ServiceDict({ who: () => "second" }),
    { nats, subject: "svc" },
  );
  assert.equal(await client.remote.who(), "second");
});

Deno.test("serveNats: a queue group shares the clients among its servers", async () => {
  await using server = await NatsServer.start();
  const nats = { servers: server.url };
  const counts = [0, 0];
  const servers = await Promise.all(
    [0, 1].map((i) =>
      serveNats(new ServiceDict({ hit: () => ++counts[i] }), {
        nats,
        subject: "work",
        queue: "workers",
      })
    ),
  );
  try {
    // One connection for all clients: each opens its own session.
    const clients = await Promise.all(
      Array.from({ length: 24 }, () => connectNats("work", { nats })),
    );
    try {
      await Promise.all(clients.map((c) => c.remote.hit()));
      assert.equal(counts[0] + counts[1], 24);
      assert.ok(counts[0] > 0 && counts[1] > 0, `shares: ${counts}`);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  } finally {
    await Promise.all(servers.map((s) => s.close()));
  }
});

Deno.test("a NATS server that cannot be reached is named in the error", async () => {
  // A port that was free a moment ago: nothing listens on it now.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  const servers = `127.0.0.1:${port}`;
  for (const nats of [{ servers }, { servers: [servers] }]) {
    await assert.rejects(
      connectNats("math", { nats }),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(
          error.message,
          new RegExp(`\\(NATS servers: 127\\.0\\.0\\.1:${port}\\)$`),
        );
        return true;
      },
    );
  }
});

Deno.test("connectNats: a call's timeout and signal, and close(), count while a session is being opened", async () => {
  await using server = await NatsServer.start();
  const nats = { servers: server.url };
  const served = await serveNats(new ServiceDict({ ping: () => "pong" }), {
    nats,
    subject: "svc",
  });
  const client = await connectNats<{ ping(): string }>("svc", {
    nats,
    openTimeout: 60_000,
  });
  const { connect } = await import("npm:@nats-io/transport-node@3.4.0");
  const mute = await connect({ servers: server.url });
  try {
    assert.equal(await client.remote.ping(), "pong");
    await served.close();
    // A member of the subject that never answers (a stopped process):
    // every new session waits for it until openTimeout.
    mute.subscribe("svc", { callback: () => {} });
    await mute.flush();
    await within(
      10_000,
      "a call with a timeout",
      assert.rejects(client.call("ping", [], {}, { timeout: 50 }), {
        name: "TimeoutError",
        message: /timed out after 50 ms/,
      }),
    );
    const controller = new AbortController();
    const aborted = client.call("ping", [], {}, {
      signal: controller.signal,
    });
    controller.abort(new Error("changed my mind"));
    await within(
      10_000,
      "an aborted call",
      assert.rejects(aborted, /changed my mind/),
    );
    const pending = client.remote.ping().catch(() => {});
    await within(10_000, "close while a session opens", client.close());
    await pending;
  } finally {
    await client.close();
    await mute.close();
  }
});
