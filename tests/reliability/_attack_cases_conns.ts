// Attacks of `deno task attack` by many connections that stall: a header
// flood, and idle connections (allowed; only the server's cost counts).
import { header, writeAll } from "./_attack_wire.ts";
import {
  type AttackContext,
  closeQuietly,
  connect,
  delay,
  errorText,
  type Outcome,
  seconds,
} from "./_attack_cases_common.ts";

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
