/**
 * One side of the idle-connection memory benchmark (bench/scenarios/memory.ts),
 * in a process of its own so that its RSS is its own:
 *
 *   deno run -A --v8-flags=--expose-gc bench/_idle_side.ts --role=server --kind=channel
 *   deno run -A --v8-flags=--expose-gc bench/_idle_side.ts --role=client --kind=channel --port=N
 *
 * `--kind=channel`: a channel (MsgPack) server echoing requests, and
 * clients made by `openConnection`. `--kind=raw`: plain Deno.Conn, each
 * side keeping one read pending into a 1 KiB buffer of its own (the floor
 * of an idle connection in Deno). It prints one JSON line when ready (the
 * server: its port), then answers each line on its standard input: `rss`
 * with `{"rss": bytes, "heap": bytes, "grownRss": bytes}` (see `rss()`
 * below; the server first
 * waits until the connections it serves are `rss N`, when N is given);
 * `open N` (client) opens N connections, makes one round trip on each, and
 * answers as `rss`; `close` (client) closes them and answers as `rss`.
 * It closes everything and exits when its standard input closes.
 */
import {
  type Channel,
  MsgPackCodec,
  openConnection,
  startServer,
} from "../mod.ts";
import { parseOptions } from "./_cli.ts";
import { writeAll } from "./_conn.ts";

const HOST = "127.0.0.1";
const options = parseOptions(
  "bench/_idle_side.ts: one side of the idle-connection memory benchmark.",
  {
    role: { type: "string", arg: "=server|client", help: "which side" },
    kind: { type: "string", arg: "=channel|raw", help: "what connects" },
    port: { type: "number", arg: "=N", help: "client: the server's port" },
  },
);
if (options.kind !== "channel" && options.kind !== "raw") {
  throw new TypeError(`--kind must be channel or raw, got ${options.kind}`);
}
if (options.role !== "server" && options.role !== "client") {
  throw new TypeError(`--role must be server or client, got ${options.role}`);
}

/** VmRSS of /proc/self/status in bytes (Deno.memoryUsage elsewhere). */
function vmRss(): number {
  try {
    const line = Deno.readTextFileSync("/proc/self/status").split("\n")
      .find((l) => l.startsWith("VmRSS:"));
    if (line !== undefined) return Number(line.split(/\s+/)[1]) * 1024;
  } catch {
    // Not Linux: Deno's figure.
  }
  return Deno.memoryUsage().rss;
}

type Gc = (
  options?: { type: string; execution: string; flavor: string },
) => void;

/**
 * RSS and heap after a memory-reducing GC (`rss`, `heap`), and RSS after a
 * regular full GC just before it (`grownRss`). The regular one leaves V8's
 * young generation at the size the last burst of allocation grew it to
 * (process-wide and capped, several MB); the memory-reducing one shrinks
 * it, as V8's memory reducer does by itself once a process has been idle
 * for about 30 s (measured: new space 18.6 MB to 0.26 MB after 35 s).
 */
function rss(): { rss: number; heap: number; grownRss: number } {
  const gc = (globalThis as { gc?: Gc }).gc;
  gc?.({ type: "major", execution: "sync", flavor: "regular" });
  gc?.({ type: "major", execution: "sync", flavor: "regular" });
  const grownRss = vmRss();
  gc?.({ type: "major", execution: "sync", flavor: "last-resort" });
  return { rss: vmRss(), heap: Deno.memoryUsage().heapUsed, grownRss };
}

const closers: (() => unknown)[] = [];

/** The connections the server serves now, and who waits for a count. */
let live = 0;
let waiting: { count: number; resolve: () => void } | null = null;

function served(change: number): void {
  live += change;
  if (waiting !== null && live === waiting.count) {
    waiting.resolve();
    waiting = null;
  }
}

/** Resolves once the server serves `count` connections. */
function serving(count: number): Promise<void> {
  if (live === count) return Promise.resolve();
  const { promise, resolve } = Promise.withResolvers<void>();
  waiting = { count, resolve };
  return promise;
}

/** Connections the client opened (closed by `close`). */
const opened: (() => unknown)[] = [];

/** Echoes whatever arrives, reading into a 1 KiB buffer. */
async function rawEcho(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(1024);
  try {
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      await writeAll(conn, buffer.subarray(0, n));
    }
  } catch {
    // Closed.
  }
}

async function serve(): Promise<number> {
  if (options.kind === "channel") {
    const server = await startServer(
      { hostname: HOST, port: 0 },
      async (ch) => {
        served(1);
        try {
          for await (const request of ch) {
            await request.reply(request.content);
          }
        } finally {
          served(-1);
        }
      },
      { codec: MsgPackCodec },
    );
    closers.push(() => server.close());
    return "port" in server.addr ? server.addr.port : 0;
  }
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const conns: Deno.Conn[] = [];
  closers.push(() => {
    listener.close();
    for (const conn of conns.splice(0)) conn.close();
  });
  (async () => {
    try {
      for await (const conn of listener) {
        conns.push(conn);
        served(1);
        rawEcho(conn).finally(() => {
          const at = conns.indexOf(conn);
          if (at >= 0) {
            conns.splice(at, 1);
            conn.close();
          }
          served(-1);
        });
      }
    } catch {
      // Closed.
    }
  })();
  return (listener.addr as Deno.NetAddr).port;
}

/** Opens one connection and makes one round trip on it. */
async function connectOne(port: number): Promise<() => unknown> {
  if (options.kind === "channel") {
    const channel: Channel = await openConnection({ hostname: HOST, port }, {
      codec: MsgPackCodec,
    });
    if (await channel.send("ping") !== "ping") throw new Error("bad echo");
    return () => channel.close();
  }
  const conn = await Deno.connect({ hostname: HOST, port });
  await writeAll(conn, new TextEncoder().encode("ping"));
  const buffer = new Uint8Array(1024);
  let got = 0;
  while (got < 4) {
    const n = await conn.read(buffer.subarray(got));
    if (n === null) throw new Error("closed");
    got += n;
  }
  // Keep a read pending, as an idle connection that waits for data does.
  conn.read(buffer).catch(() => {});
  return () => conn.close();
}

async function open(port: number, count: number): Promise<void> {
  for (let done = 0; done < count;) {
    const batch = Math.min(50, count - done);
    const batchClosers = await Promise.all(
      Array.from({ length: batch }, () => connectOne(port)),
    );
    opened.push(...batchClosers);
    done += batch;
  }
}

const encoder = new TextEncoder();
const say = (value: unknown) =>
  Deno.stdout.write(encoder.encode(JSON.stringify(value) + "\n"));

if (options.role === "server") {
  await say({ port: await serve(), ...rss() });
} else {
  const port = options.port ?? 0;
  // Warm the code paths up (and load the codec) on one connection.
  const close = await connectOne(port);
  await close();
  await say({ ready: true, ...rss() });
}
let pending = "";
for await (
  const text of Deno.stdin.readable.pipeThrough(new TextDecoderStream())
) {
  pending += text;
  for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
    const [command, arg] = pending.slice(0, nl).trim().split(" ");
    pending = pending.slice(nl + 1);
    if (command === "open") await open(options.port ?? 0, Number(arg));
    if (command === "close") {
      for (const close of opened.splice(0)) await close();
    }
    if (command === "rss" && arg !== undefined) await serving(Number(arg));
    await say(rss());
  }
}
for (const close of [...opened, ...closers].reverse()) {
  try {
    await close();
  } catch {
    // Closed already.
  }
}
