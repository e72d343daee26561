/**
 * The peer process of `bench/e2e.ts`: serves every scenario on 127.0.0.1
 * (port 0 each) and prints one JSON line with the ports and the agent's
 * address. Each line `cpu` on its standard input is answered by a line
 * `{"cpuUs": N, "reads": N, "writes": N}`: its user + system CPU time so
 * far, in microseconds, and with `--count-io` its socket reads and writes. It
 * stops when its standard input closes (so it never outlives the
 * benchmark), and exits by itself.
 *
 * - raw: echoes complete 4-byte-length frames with plain `Deno.Conn`
 *   reads and writes, all frames of one read in one write;
 * - rawOwned: the same, but each frame copied into fresh memory and echoed
 *   from there in a write of its own (the bulk rows' reference for bytes
 *   handed over);
 * - channelJson / channelMsgpack: a channel server replying with the
 *   request's content (`for await`);
 * - channelMsgpackEach: the same with a `tryRecv()` loop;
 * - rpcMsgpack: an RPC server with `add(a, b)` (telemetry by default:
 *   nothing is registered, so nothing is recorded);
 * - rpcMsgpackOff / rpcMsgpackTraced / rpcMsgpackMetered: the same with
 *   `telemetry: false`, with spans made and dropped, with metrics recorded
 *   (see `tracedTelemetry` and `meteredTelemetry` in `_peer_process.ts`);
 * - agent: a container (MsgPack) hosting an agent with `add(a, b)`;
 * - minimalJson / minimalMsgpack: the hand-written echo peer of
 *   `_minimal.ts`, for comparison;
 * - minimalRequests: the same (MsgPack) with requests as objects taken by
 *   a `tryRecv()` loop and answered with `reply()`, as a channel hands
 *   them over (`serveMinimalRequests`): what that API adds to it;
 * - bulkMsgpack / bulkBlosc: channel servers (MsgPack, MsgPack+Blosc)
 *   echoing large byte payloads with a `tryRecv()` loop.
 *
 * Started by `_peer_process.ts` as:
 *   deno run -A bench/_peer.ts [--profile=FILE] [--count-io]
 */
import process from "node:process";
import {
  type CodecClass,
  Container,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
  rpc,
  type RpcTelemetryOptions,
  startServer,
} from "../mod.ts";
import { Calc, MathService } from "./_agents.ts";
import { frameLength, writeAll } from "./_conn.ts";
import { echo, echoEach } from "./_echo.ts";
import { installIoCounter, ioCounts } from "./_io_counter.ts";
import { serveMinimal, serveMinimalRequests } from "./_minimal.ts";
import { parseOptions } from "./_cli.ts";
import {
  meteredTelemetry,
  REPLY_MARK,
  tracedTelemetry,
} from "./_peer_process.ts";
import { type Profiler, startProfiler, summarize } from "./_profiler.ts";

const HOST = "127.0.0.1";

/**
 * Echoes complete frames from one reused buffer; `owned`: each frame is
 * first copied into fresh memory of its own and echoed from there, as a
 * message whose bytes a handler may keep must be (a reference for any
 * implementation that hands over received bytes, without a library).
 */
async function serveRaw(conn: Deno.Conn, owned = false): Promise<void> {
  (conn as Deno.TcpConn).setNoDelay(true);
  let buffer = new Uint8Array(256 * 1024);
  let filled = 0;
  try {
    for (;;) {
      const n = await conn.read(buffer.subarray(filled));
      if (n === null) return;
      filled += n;
      // Find the end of the last complete frame.
      let end = 0;
      for (;;) {
        if (filled - end < 4) break;
        const length = frameLength(buffer, end);
        if (filled - end - 4 < length) {
          if (4 + length > buffer.length) {
            const grown = new Uint8Array(4 + length);
            grown.set(buffer.subarray(0, filled));
            buffer = grown;
          }
          break;
        }
        end += 4 + length;
      }
      if (end > 0) {
        if (!owned) await writeAll(conn, buffer.subarray(0, end));
        // Each echo is its own write, as a handler's reply is (the
        // library's echo, too, writes a 64 KiB reply at a time).
        for (let at = 0; owned && at < end;) {
          const next = at + 4 + frameLength(buffer, at);
          await writeAll(conn, buffer.slice(at, next));
          at = next;
        }
        buffer.copyWithin(0, end, filled);
        filled -= end;
      }
    }
  } catch {
    // The benchmark closed the connection.
  } finally {
    try {
      conn.close();
    } catch {
      // Closed already.
    }
  }
}

const options = parseOptions(
  "bench/_peer.ts: the peer process of bench/e2e.ts (started by it).",
  {
    profile: {
      type: "string",
      arg: "=FILE",
      help: "profile this process and write the profile to FILE",
    },
    "count-io": { type: "boolean", help: "count socket reads and writes" },
  },
);
const profilePath = options.profile;
if (options["count-io"]) await installIoCounter();
let profiler: Profiler | undefined;
if (profilePath !== undefined) profiler = await startProfiler();

/** Serves every connection of a new listener with `serve` until it closes. */
function listen(serve: (conn: Deno.Conn) => Promise<void>): {
  listener: Deno.Listener;
  done: Promise<void>;
} {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const done = (async () => {
    const serving: Promise<void>[] = [];
    try {
      for await (const conn of listener) serving.push(serve(conn));
    } catch {
      // Closed.
    }
    await Promise.all(serving);
  })();
  return { listener, done };
}

const raw = listen(serveRaw);
const rawOwned = listen((conn) => serveRaw(conn, true));
const minimal = (codec: CodecClass, serve = serveMinimal) =>
  listen((conn) => {
    (conn as Deno.TcpConn).setNoDelay(true);
    return serve(conn, new codec());
  });
const minimalJson = minimal(JsonCodec);
const minimalMsgpack = minimal(MsgPackCodec);
const minimalRequests = minimal(MsgPackCodec, serveMinimalRequests);

const channelJson = await startServer({ hostname: HOST, port: 0 }, echo, {
  codec: JsonCodec,
});
const channelMsgpack = await startServer({ hostname: HOST, port: 0 }, echo, {
  codec: MsgPackCodec,
});
const channelMsgpackEach = await startServer(
  { hostname: HOST, port: 0 },
  echoEach,
  { codec: MsgPackCodec },
);
const bulkMsgpack = await startServer({ hostname: HOST, port: 0 }, echoEach, {
  codec: MsgPackCodec,
});
const bulkBlosc = await startServer({ hostname: HOST, port: 0 }, echoEach, {
  codec: MsgPackBloscCodec,
});
const rpcServer = await rpc.startServer(
  { hostname: HOST, port: 0 },
  new MathService(),
  { codec: MsgPackCodec },
);
const rpcServerWith = (telemetry: RpcTelemetryOptions | false) =>
  rpc.startServer({ hostname: HOST, port: 0 }, new MathService(), {
    codec: MsgPackCodec,
    telemetry,
  });
const rpcServerOff = await rpcServerWith(false);
const rpcServerTraced = await rpcServerWith(tracedTelemetry());
const rpcServerMetered = await rpcServerWith(meteredTelemetry());
const container = await Container.create({ hostname: HOST, port: 0 }, {
  codec: MsgPackCodec,
});
const calc = new Calc(container);

const port = (addr: { hostname: string; port: number } | { path: string }) =>
  "port" in addr ? addr.port : 0;
// Replies to the runner are one write each (atomic on a pipe), marked, as
// V8 may print to the same stdout (`DENO_V8_FLAGS=--trace-gc`).
const encoder = new TextEncoder();
function reply(value: unknown): void {
  Deno.stdout.writeSync(
    encoder.encode(`${REPLY_MARK}${JSON.stringify(value)}\n`),
  );
}

reply({
  raw: (raw.listener.addr as Deno.NetAddr).port,
  rawOwned: (rawOwned.listener.addr as Deno.NetAddr).port,
  minimalJson: (minimalJson.listener.addr as Deno.NetAddr).port,
  minimalMsgpack: (minimalMsgpack.listener.addr as Deno.NetAddr).port,
  minimalRequests: (minimalRequests.listener.addr as Deno.NetAddr).port,
  channelJson: port(channelJson.addr),
  channelMsgpack: port(channelMsgpack.addr),
  channelMsgpackEach: port(channelMsgpackEach.addr),
  rpcMsgpack: port(rpcServer.addr),
  rpcMsgpackOff: port(rpcServerOff.addr),
  rpcMsgpackTraced: port(rpcServerTraced.addr),
  rpcMsgpackMetered: port(rpcServerMetered.addr),
  bulkMsgpack: port(bulkMsgpack.addr),
  bulkBlosc: port(bulkBlosc.addr),
  agent: calc.addr,
  pid: Deno.pid,
});

// Answer "cpu" lines until the benchmark closes our standard input.
let pending = "";
for await (
  const text of Deno.stdin.readable.pipeThrough(new TextDecoderStream())
) {
  pending += text;
  for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
    const command = pending.slice(0, nl).trim();
    pending = pending.slice(nl + 1);
    if (command === "cpu") {
      const { user, system } = process.cpuUsage();
      reply({ cpuUs: user + system, ...ioCounts });
    }
  }
}

for (
  const { listener } of [
    raw,
    rawOwned,
    minimalJson,
    minimalMsgpack,
    minimalRequests,
  ]
) {
  listener.close();
}
await Promise.all([
  channelJson.close(),
  channelMsgpack.close(),
  channelMsgpackEach.close(),
  bulkMsgpack.close(),
  bulkBlosc.close(),
  rpcServer.close(),
  rpcServerOff.close(),
  rpcServerTraced.close(),
  rpcServerMetered.close(),
  container.shutdown(),
]);
await Promise.all([
  raw.done,
  rawOwned.done,
  minimalJson.done,
  minimalMsgpack.done,
  minimalRequests.done,
]);
if (profiler !== undefined && profilePath !== undefined) {
  const profile = await profiler.stop();
  await Deno.writeTextFile(profilePath, JSON.stringify(profile));
  console.error(`peer profile (${profilePath}):\n${summarize(profile)}`);
}
