// Attacks of `deno task attack` judged by the heap the server keeps: a
// client that leaves its slow calls, and answered connections that stay.
import {
  codecOf,
  FrameReader,
  requestFrame,
  writeAll,
} from "./_attack_wire.ts";
import {
  type AttackContext,
  callOnce,
  closeQuietly,
  connect,
  delay,
  errorText,
  MIB,
  type Outcome,
} from "./_attack_cases_common.ts";

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
