// Attacks of `deno task attack` judged by the heap the server keeps: a
// client that leaves its slow calls, and answered connections that stay.
import { DEFAULT_MAX_UNANSWERED_SIZE } from "../../channel/mod.ts";
import type { Codec } from "../../codecs/mod.ts";
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
 * Sends requests to `slow()` with `argBytes`-byte arguments, waits for the
 * server to take them in, leaves, and asks the server (over a new
 * connection, after a full GC) how much more heap it holds than before.
 *
 * With `calls: "limit"`, exactly as many as reach the server's default
 * `maxUnansweredSize` (the last one crosses it): the server reads them all,
 * then stops reading, and must still see the client leave. With a number
 * beyond that, the server stops reading before the last ones and the
 * client's writes stall: its leaving cannot be seen (TCP delivers the end
 * of the stream after the bytes before it, which wait to be read), and
 * what the server keeps must stay within that limit.
 */
export async function slowThenLeave(
  ctx: AttackContext,
  calls: number | "limit",
  argBytes: number,
  ms: number,
): Promise<Outcome> {
  const codec = codecOf(ctx.codec);
  const arg = argumentOf(ctx, argBytes, 0x79);
  const flood = calls !== "limit";
  if (calls === "limit") calls = await callsToLimit(codec, arg);
  const keptLimit = flood
    ? DEFAULT_MAX_UNANSWERED_SIZE / MIB + FLOOD_SLACK_MIB
    : KEPT_LIMIT_MIB;
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
    } MiB more heap and external 3 s after it left`,
    ok: kept < keptLimit,
  };
}

/**
 * How many requests of `slow(arg)` the server reads before its default
 * `maxUnansweredSize` stops it: each is charged what the codec reports
 * for it.
 */
async function callsToLimit(
  codec: Codec,
  arg: string | Uint8Array,
): Promise<number> {
  const request = await requestFrame(codec, 0, "slow", [arg]);
  await codec.decode(request.subarray(4));
  const cost = codec.lastDecodedCost!;
  return Math.ceil(DEFAULT_MAX_UNANSWERED_SIZE / cost);
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
  const request = await requestFrame(codec, 0, "echo", [
    argumentOf(ctx, argBytes, 0x7a),
  ]);
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
      } MiB more heap and external while they stay`,
      ok: answered === count && kept < KEPT_LIMIT_MIB,
    };
  } finally {
    for (const conn of conns) closeQuietly(conn);
  }
}

/** Heap a client that left may leave behind: noise, not its arguments. */
const KEPT_LIMIT_MIB = 32;
/**
 * Heap beyond `maxUnansweredSize` a flooding client that left may leave
 * behind: a partial frame and read buffers.
 */
const FLOOD_SLACK_MIB = 8;

/**
 * The server's memory after a full GC (bytes), or undefined: its JS heap
 * and the memory outside it that JS objects own (ArrayBuffers: bytes
 * arguments, read and encode buffers), where a kept message may be too.
 */
async function heapOf(ctx: AttackContext): Promise<number | undefined> {
  const heap = await callOnce(ctx, "heap", [], 10_000) as
    | { heapUsed: number; external: number }
    | undefined;
  return heap === undefined ? undefined : heap.heapUsed + heap.external;
}

/**
 * The argument of `argBytes`: a string for JSON, bytes (a MsgPack `bin`,
 * held outside the JS heap) for the MsgPack codecs.
 */
function argumentOf(
  ctx: AttackContext,
  argBytes: number,
  fill: number,
): string | Uint8Array {
  return ctx.codec === "json"
    ? String.fromCharCode(fill).repeat(argBytes)
    : new Uint8Array(argBytes).fill(fill);
}
