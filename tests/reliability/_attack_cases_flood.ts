// Attacks of `deno task attack` by one connection: a frame that costs the
// server much to decode, and a client that sends and never reads.
import {
  type CodecName,
  codecOf,
  FrameReader,
  requestFrame,
  writeAll,
} from "./_attack_wire.ts";
import {
  type AttackContext,
  closeQuietly,
  connect,
  delay,
  errorText,
  MIB,
  type Outcome,
  seconds,
} from "./_attack_cases_common.ts";

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
