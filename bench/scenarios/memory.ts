// Memory: RSS per idle connection (--connections, 1000) from a client
// process to a server process, each side measured in its own process
// (bench/_idle_side.ts: VmRSS of /proc/<pid>/status, before and after the
// connections are opened and have made one round trip each). Judged: 1000
// more connections opened beside 1000 open ones, after a memory-reducing GC,
// which is what each idle connection keeps; shown beside it: the first 1000
// (with what the process grows once: pools, allocator arenas), and the 1000
// more after a regular full GC, with V8's young generation as big as the
// burst of opening them grew it (process-wide and capped, not per
// connection; V8 shrinks it by itself after about 30 s idle).
// Paired with raw Deno.Conn, each side keeping one read pending into a
// 1 KiB buffer: the floor of an idle connection in Deno. Each round starts
// fresh processes, raw and channel in turn. Target (issue 16): ≤ 24 KB per
// idle connection on each side.
import type { Context, Family } from "../_family.ts";
import { median } from "../_measure.ts";
import { judge, type Row } from "../_report.ts";

/** The scenario ids of this family. */
export const MEMORY_IDS = [
  "idleServer",
  "idleClient",
  "idleServerFirst",
  "idleClientFirst",
  "idleServerGrown",
  "idleClientGrown",
] as const;

/** Bytes per connection on each side: the first batch, and the next. */
interface Measured {
  server: number;
  client: number;
  serverFirst: number;
  clientFirst: number;
  serverGrown: number;
  clientGrown: number;
}

/** A child process that answers one JSON line per line asked. */
interface Side {
  first: Record<string, number>;
  ask(line: string): Promise<{ rss: number; heap: number; grownRss: number }>;
  stop(): Promise<void>;
}

async function startSide(args: string[]): Promise<Side> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--v8-flags=--expose-gc",
      new URL("../_idle_side.ts", import.meta.url).pathname,
      ...args,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stdin = child.stdin.getWriter();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const next = async () => {
    for (;;) {
      const nl = text.indexOf("\n");
      if (nl >= 0) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        return JSON.parse(line);
      }
      const { value, done } = await lines.read();
      if (done) throw new Error(`_idle_side.ts ${args.join(" ")} exited`);
      text += value;
    }
  };
  const stop = async () => {
    await stdin.close().catch(() => {});
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Gone already.
      }
    }, 10_000);
    await child.status;
    clearTimeout(timer);
    await lines.cancel().catch(() => {});
  };
  try {
    const first = await next();
    return {
      first,
      async ask(line) {
        await stdin.write(new TextEncoder().encode(line + "\n"));
        return await next();
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Bytes per connection on each side, for one kind, fresh processes: over
 * the first `count` connections, and over `count` more opened beside them.
 */
async function measureKind(
  kind: "raw" | "channel",
  count: number,
): Promise<Measured> {
  const server = await startSide(["--role=server", `--kind=${kind}`]);
  let client: Side | undefined;
  try {
    client = await startSide([
      "--role=client",
      `--kind=${kind}`,
      `--port=${server.first.port}`,
    ]);
    const serverStart = await server.ask("rss");
    const clientStart = await client.ask("rss");
    // The first batch stays open: what grows once per process while
    // connections are opened (pools, allocator arenas) lands in it, and the
    // second batch shows what each connection costs.
    // (Closing the first batch instead would let the second reuse its
    // freed memory.)
    const clientBefore = await client.ask(`open ${count}`);
    const serverBefore = await server.ask(`rss ${count}`);
    const clientAfter = await client.ask(`open ${count}`);
    const serverAfter = await server.ask(`rss ${2 * count}`);
    return {
      server: (serverAfter.rss - serverBefore.rss) / count,
      client: (clientAfter.rss - clientBefore.rss) / count,
      serverFirst: (serverBefore.rss - serverStart.rss) / count,
      clientFirst: (clientBefore.rss - clientStart.rss) / count,
      serverGrown: (serverAfter.grownRss - serverBefore.rss) / count,
      clientGrown: (clientAfter.grownRss - clientBefore.rss) / count,
    };
  } finally {
    await client?.stop();
    await server.stop();
  }
}

async function run(context: Context): Promise<Row[]> {
  const count = context.options.connections ?? 1000;
  const rounds = context.quick ? 1 : Math.min(context.options.rounds ?? 3, 3);
  const raw: Measured[] = [];
  const channel: Measured[] = [];
  for (let round = 0; round < rounds; round++) {
    raw.push(await measureKind("raw", count));
    channel.push(await measureKind("channel", count));
    context.log(`  round ${round + 1}/${rounds} done`);
  }
  const rows: Row[] = [];
  const kinds = [
    ["idleServer", "server", `${count} more beside ${count} open`],
    ["idleClient", "client", `${count} more beside ${count} open`],
    ["idleServerFirst", "serverFirst", `the first ${count}, process growth in`],
    ["idleClientFirst", "clientFirst", `the first ${count}, process growth in`],
    [
      "idleServerGrown",
      "serverGrown",
      `${count} more, young generation as grown`,
    ],
    [
      "idleClientGrown",
      "clientGrown",
      `${count} more, young generation as grown`,
    ],
  ] as const;
  for (const [id, key, which] of kinds) {
    if (context.only !== undefined && !context.only.has(id)) continue;
    const values = channel.map((m) => m[key] / 1000);
    const raws = raw.map((m) => m[key] / 1000);
    const ratioRounds = values.map((v, i) => v / raws[i]);
    const result = median(values);
    const side = key.startsWith("server") ? "server" : "client";
    const row: Row = {
      family: "memory",
      id,
      scenario: `RSS per idle connection, ${side} side (${which})`,
      note: "channel, MsgPack, after one round trip each; raw: Deno.Conn " +
        "with a read pending into 1 KiB; KB = 1000 bytes; " +
        (key.endsWith("Grown")
          ? "after a regular full GC (young generation left as grown)"
          : "after a memory-reducing GC"),
      unit: "KB/conn",
      result,
      baseline: median(raws),
      ratio: median(ratioRounds),
      ratioRounds,
      target: "",
      measured: null,
      score: null,
      pass: null,
      rounds: values,
    };
    // The target is what each idle connection keeps; the first batch's
    // figure (with the process's one-off growth) and the one with the
    // young generation as grown are shown beside it.
    rows.push(
      id === "idleServer" || id === "idleClient"
        ? judge(row, "≤ 24 KB/conn", result, { max: 24 })
        : row,
    );
  }
  return rows;
}

/** The idle-memory family. */
export const memory: Family = { name: "memory", ids: MEMORY_IDS, run };
