// The attacks of `deno task attack`, each against a server on 127.0.0.1
// `port` over raw sockets, each bounded in count and time. Each returns
// the offender's outcome: what the server did to it, and whether that is
// what the targets ask for (cut or slowed, never served without bound).
import {
  type CodecName,
  codecOf,
  FrameReader,
  header,
  requestFrame,
  writeAll,
} from "./_attack_wire.ts";

/** What an attack sees of the server. */
export interface AttackContext {
  port: number;
  codec: CodecName;
  /** Settles when the server process has exited. */
  exited: Promise<unknown>;
  /** Current VmRSS of the server in bytes (0 once it is gone). */
  rss(): Promise<number>;
}

/** The offender's outcome. */
export interface Outcome {
  text: string;
  /** Cut or slowed (or, for idle connections, allowed). */
  ok: boolean;
}

const MIB = 1024 * 1024;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function errorText(error: unknown): string {
  return error instanceof Error
    ? `${error.name}: ${error.message}`
    : String(error);
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

function connect(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

/** The last line of an error reply's traceback, or the reply's kind. */
async function describeReply(
  codec: CodecName,
  reply: { size: number; payload?: Uint8Array },
): Promise<{ served: boolean; text: string }> {
  if (reply.payload === undefined) {
    return {
      served: true,
      text: `a ${(reply.size / MIB).toFixed(1)} MiB reply`,
    };
  }
  const decoded = await codecOf(codec).decode(reply.payload) as unknown[];
  if (Array.isArray(decoded) && decoded[0] === 2) {
    const lines = String(decoded[2]).trim().split("\n");
    return {
      served: false,
      text: `error reply "${lines.at(-1)?.slice(0, 100)}"`,
    };
  }
  return { served: true, text: `a ${reply.size}-byte reply` };
}

/**
 * Sends one frame and waits up to `waitMs` for what the server does: a
 * reply (served: bounded, if the other targets are met), an error reply or
 * a closed connection (cut), or nothing (a miss).
 */
export async function frameBomb(
  ctx: AttackContext,
  bytes: Uint8Array,
  waitMs: number,
): Promise<Outcome> {
  const conn = await connect(ctx.port);
  const t0 = performance.now();
  let written: number | undefined;
  const writing = writeAll(conn, bytes).then(
    () => written = performance.now() - t0,
    () => {},
  );
  const reader = new FrameReader(conn);
  const next = () =>
    reader.read().then(
      (reply) =>
        reply === null
          ? { kind: "eof" as const }
          : { kind: "frame" as const, reply },
      (error) => ({ kind: "error" as const, error }),
    );
  const until = (ms: number) =>
    Promise.race([
      next(),
      delay(ms).then(() => ({ kind: "timeout" as const })),
      ctx.exited.then(() => ({ kind: "died" as const })),
    ]);
  try {
    let result = await until(waitMs);
    const after = seconds(performance.now() - t0);
    const sent = written === undefined ? "frame not fully sent; " : "";
    switch (result.kind) {
      case "died":
        return { text: "server died", ok: false };
      case "timeout":
        return { text: `${sent}no answer in ${seconds(waitMs)}`, ok: false };
      case "eof":
        return { text: `${sent}cut: closed after ${after}`, ok: true };
      case "error":
        return {
          text: `${sent}cut: ${errorText(result.error)} after ${after}`,
          ok: true,
        };
    }
    const reply = await describeReply(ctx.codec, result.reply);
    // Served within the budget: bounded work, which the RSS and latency
    // targets judge.
    if (reply.served) {
      return { text: `served: ${reply.text} after ${after}`, ok: true };
    }
    // An error reply: is the connection closed after it?
    result = await until(2000);
    const closed = result.kind === "eof" || result.kind === "error";
    return {
      text: `${reply.text} after ${after}${closed ? ", then closed" : ""}`,
      ok: true,
    };
  } finally {
    closeQuietly(conn);
    await writing;
  }
}

/**
 * A client that sends `method` requests continuously and never reads, for
 * at most `ms` and `maxRequests`. Slowed when its last write is still held
 * by TCP for 2 s or more at the end (the server stopped reading it).
 */
export async function neverReads(
  ctx: AttackContext,
  method: "echo" | "big",
  ms: number,
  maxRequests: number,
): Promise<Outcome> {
  const codec = codecOf(ctx.codec);
  const perBatch = 1000;
  const args = method === "echo" ? ["x".repeat(100)] : [];
  const parts: Uint8Array[] = [];
  for (let i = 0; i < perBatch; i++) {
    parts.push(await requestFrame(codec, i, method, args));
  }
  const batch = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (batch.set(p, at), at + p.length), 0);

  const conn = await connect(ctx.port);
  const t0 = performance.now();
  const deadline = t0 + ms;
  let requests = 0;
  let longestStall = 0;
  let heldAtEnd = 0;
  let failure: string | undefined;
  let died = false;
  try {
    while (performance.now() < deadline && requests < maxRequests) {
      const started = performance.now();
      const result = await Promise.race([
        writeAll(conn, batch).then(
          () => "written",
          (error) => errorText(error),
        ),
        delay(deadline - started).then(() => "deadline"),
        ctx.exited.then(() => "died"),
      ]);
      longestStall = Math.max(longestStall, performance.now() - started);
      if (result === "deadline") {
        heldAtEnd = performance.now() - started;
        break;
      }
      if (result === "died") {
        died = true;
        break;
      }
      if (result !== "written") {
        failure = result;
        break;
      }
      requests += perBatch;
    }
  } finally {
    closeQuietly(conn);
  }
  const elapsed = performance.now() - t0;
  const sent = `${
    ((requests / perBatch) * batch.length / MIB).toFixed(0)
  } MiB, ${requests} requests`;
  if (died) return { text: `server died after ${sent}`, ok: false };
  if (failure !== undefined) {
    return {
      text: `cut: ${failure} after ${sent} in ${seconds(elapsed)}`,
      ok: true,
    };
  }
  // Slowed: TCP held the sender for (at least) the last 2 s of the run,
  // so the server had stopped reading it; not a passing hiccup.
  if (heldAtEnd >= 2000) {
    return {
      text: `slowed: ${sent}, then held ${seconds(heldAtEnd)} until the end`,
      ok: true,
    };
  }
  return {
    text: `not slowed: ${sent} in ${seconds(elapsed)} (longest write wait ${
      seconds(longestStall)
    })`,
    ok: false,
  };
}

/** Opens `count` connections, 100 at a time; each gets `first` written if given. */
async function openMany(
  port: number,
  count: number,
  first: Uint8Array | undefined,
): Promise<{ conns: Deno.Conn[]; failed: number; firstFailure?: string }> {
  const conns: Deno.Conn[] = [];
  let failed = 0;
  let firstFailure: string | undefined;
  for (let i = 0; i < count; i += 100) {
    const batch = Array.from({ length: Math.min(100, count - i) }, async () => {
      const conn = await connect(port);
      conns.push(conn);
      if (first !== undefined) await writeAll(conn, first);
    });
    for (const result of await Promise.allSettled(batch)) {
      if (result.status === "rejected") {
        failed++;
        firstFailure ??= errorText(result.reason);
      }
    }
  }
  return { conns, failed, firstFailure };
}

/**
 * `count` connections that each send `first` (or nothing) and then
 * nothing more, held for `holdMs` or until the server has cut them all.
 */
export async function stallMany(
  ctx: AttackContext,
  count: number,
  first: Uint8Array | undefined,
  holdMs: number,
): Promise<Outcome> {
  const t0 = performance.now();
  const { conns, failed, firstFailure } = await openMany(
    ctx.port,
    count,
    first,
  );
  const cutAt: number[] = [];
  const allCut = Promise.withResolvers<void>();
  let stopping = false;
  for (const conn of conns) {
    const buf = new Uint8Array(1024);
    const watch = async () => {
      while (await conn.read(buf) !== null) {
        // The server has nothing to say to a stalled connection; discard.
      }
    };
    watch().catch(() => {}).finally(() => {
      if (stopping) return;
      cutAt.push(performance.now() - t0);
      if (cutAt.length === conns.length) allCut.resolve();
    });
  }
  const died = await Promise.race([
    delay(holdMs).then(() => false),
    allCut.promise.then(() => false),
    ctx.exited.then(() => true),
  ]);
  stopping = true;
  const cut = cutAt.length;
  for (const conn of conns) closeQuietly(conn);
  const opened = `${conns.length}/${count} opened${
    failed ? ` (${failed} failed: ${firstFailure})` : ""
  }`;
  if (died) return { text: `server died; ${opened}`, ok: false };
  if (cut === 0) {
    return { text: `held all for ${seconds(holdMs)}; ${opened}`, ok: false };
  }
  const range = `${seconds(Math.min(...cutAt))}–${seconds(Math.max(...cutAt))}`;
  return {
    text: `cut ${cut}/${conns.length} at ${range}; ${opened}`,
    ok: cut === conns.length,
  };
}

/** The header flood: `count` connections each claiming a `claim`-byte frame. */
export function headerFlood(
  ctx: AttackContext,
  count: number,
  claim: number,
  holdMs: number,
): Promise<Outcome> {
  return stallMany(ctx, count, header(claim), holdMs);
}

/**
 * Idle connections are allowed (idleTimeout is opt-in): only the server's
 * cost counts. Each sends `first` (if given) before it goes quiet.
 */
export async function idleMany(
  ctx: AttackContext,
  count: number,
  holdMs: number,
  first?: Uint8Array,
): Promise<Outcome> {
  const outcome = await stallMany(ctx, count, first, holdMs);
  if (outcome.text.startsWith("server died")) return outcome;
  return { text: `${outcome.text} (idle is allowed)`, ok: true };
}

/** One RPC call over a fresh connection, or undefined after `ms`. */
export async function callOnce(
  ctx: AttackContext,
  method: string,
  args: unknown[],
  ms: number,
): Promise<unknown> {
  const codec = codecOf(ctx.codec);
  let conn: Deno.Conn | undefined;
  const call = (async () => {
    conn = await connect(ctx.port);
    await writeAll(conn, await requestFrame(codec, 0, method, args));
    const reply = await new FrameReader(conn, 1024 * 1024).read();
    if (reply?.payload === undefined) return undefined;
    const decoded = await codec.decode(reply.payload) as unknown[];
    return decoded[0] === 1 ? decoded[2] : undefined;
  })();
  try {
    return await Promise.race([
      call.catch(() => undefined),
      delay(ms).then(() => undefined),
    ]);
  } finally {
    if (conn !== undefined) closeQuietly(conn);
    await call.catch(() => {});
  }
}

/**
 * Sends `calls` requests to `slow()` with `argBytes`-byte arguments, waits
 * for the server to take them in, leaves, and asks the server (over a new
 * connection, after a full GC) how much more heap it holds than before.
 */
export async function slowThenLeave(
  ctx: AttackContext,
  calls: number,
  argBytes: number,
  ms: number,
): Promise<Outcome> {
  const codec = codecOf(ctx.codec);
  const arg = "y".repeat(argBytes);
  const before = await heapOf(ctx);
  if (before === undefined) {
    return { text: "server did not answer `heap`", ok: false };
  }
  const conn = await connect(ctx.port);
  const t0 = performance.now();
  let sent = 0;
  let stalled = false;
  try {
    for (; sent < calls; sent++) {
      const request = await requestFrame(codec, sent, "slow", [arg]);
      const result = await Promise.race([
        writeAll(conn, request).then(
          () => "written",
          (error) => errorText(error),
        ),
        delay(t0 + ms - performance.now()).then(() => "deadline"),
        ctx.exited.then(() => "died"),
      ]);
      if (result === "died") return { text: "server died", ok: false };
      if (result === "deadline") {
        stalled = true;
        break;
      }
      if (result !== "written") {
        return { text: `cut: ${result} after ${sent} calls`, ok: true };
      }
    }
    // Give the server time to read and decode what is in the socket.
    await Promise.race([delay(2000), ctx.exited]);
  } finally {
    closeQuietly(conn);
  }
  const whileThere = await ctx.rss();
  await Promise.race([delay(3000), ctx.exited]);
  const after = await heapOf(ctx);
  if (after === undefined) {
    return { text: "server died or did not answer `heap`", ok: false };
  }
  const kept = (after - before) / MIB;
  const sentText = `${sent}${
    stalled ? ` of ${calls} (writes stalled)` : ""
  } × ${(argBytes / MIB).toFixed(0)} MiB`;
  return {
    text: `${sentText}; rss ${(whileThere / MIB).toFixed(0)} MiB with it; ${
      kept.toFixed(0)
    } MiB more heap 3 s after it left`,
    ok: kept < KEPT_LIMIT_MIB,
  };
}

/**
 * Opens `count` connections; each calls `echo` once with an `argBytes`-byte
 * argument, reads the reply, and stays, quiet (idle connections are
 * allowed). Then asks the server (over a new connection, after a full GC)
 * how much more heap it holds than before: a handled message must not stay
 * reachable from a connection waiting for its next bytes, where no budget
 * counts it.
 */
export async function answeredThenQuiet(
  ctx: AttackContext,
  count: number,
  argBytes: number,
  ms: number,
): Promise<Outcome> {
  const codec = codecOf(ctx.codec);
  const request = await requestFrame(codec, 0, "echo", ["z".repeat(argBytes)]);
  const before = await heapOf(ctx);
  if (before === undefined) {
    return { text: "server did not answer `heap`", ok: false };
  }
  const conns: Deno.Conn[] = [];
  const t0 = performance.now();
  let answered = 0;
  try {
    for (; answered < count; answered++) {
      const conn = await connect(ctx.port);
      conns.push(conn);
      const reply = await Promise.race([
        writeAll(conn, request).then(() => new FrameReader(conn).read()),
        delay(t0 + ms - performance.now()).then(() => "deadline" as const),
        ctx.exited.then(() => "died" as const),
      ]);
      if (reply === "died") return { text: "server died", ok: false };
      if (reply === "deadline") break;
      if (reply === null || reply.size < argBytes) {
        return {
          text: `call ${answered + 1} not answered with its argument`,
          ok: false,
        };
      }
    }
    const whileThere = await ctx.rss();
    const after = await heapOf(ctx);
    if (after === undefined) {
      return { text: "server died or did not answer `heap`", ok: false };
    }
    const kept = (after - before) / MIB;
    return {
      text: `${answered} of ${count} × ${
        (argBytes / MIB).toFixed(0)
      } MiB answered; rss ${(whileThere / MIB).toFixed(0)} MiB; ${
        kept.toFixed(0)
      } MiB more heap while they stay`,
      ok: answered === count && kept < KEPT_LIMIT_MIB,
    };
  } finally {
    for (const conn of conns) closeQuietly(conn);
  }
}

/** Heap a client that left may leave behind: noise, not its arguments. */
const KEPT_LIMIT_MIB = 32;

/** The server's heap after a full GC (bytes), or undefined. */
async function heapOf(ctx: AttackContext): Promise<number | undefined> {
  const heap = await callOnce(ctx, "heap", [], 10_000) as
    | { heapUsed: number }
    | undefined;
  return heap?.heapUsed;
}
