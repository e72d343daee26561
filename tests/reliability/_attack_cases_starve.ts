// An attack of `deno task attack` by many connections: each asks for large
// replies and one request charged at the codec's bound, then never reads.
// Replies that wait for such a peer once kept their requests charged to the
// process-wide unanswered budget, and a few dozen of them stopped the server
// from reading anyone else, for as long as they stayed.
import { codecOf, requestFrame, writeAll } from "./_attack_wire.ts";
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

/**
 * Opens `connections` connections that each send 12 calls of `big` and an
 * `echo` of 600 KB, never read, and stay `ms`. Then reads each one for up
 * to 2 s: a connection that ends meanwhile was cut (by `writeTimeout`).
 */
export async function neverReadMany(
  ctx: AttackContext,
  connections: number,
  ms: number,
): Promise<Outcome> {
  const codec = codecOf(ctx.codec);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 12; i++) {
    parts.push(await requestFrame(codec, i, "big", []));
  }
  parts.push(await requestFrame(codec, 99, "echo", ["q".repeat(600_000)]));
  const burst = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (burst.set(p, at), at + p.length), 0);
  const conns: Deno.TcpConn[] = [];
  let sent = 0;
  try {
    for (let i = 0; i < connections; i++) {
      const conn = await connect(ctx.port);
      conns.push(conn);
      const written = await Promise.race([
        writeAll(conn, burst).then(() => true, () => false),
        delay(5000).then(() => false),
      ]);
      if (written) sent += burst.length;
    }
    const died = await Promise.race([
      delay(ms).then(() => false),
      ctx.exited.then(() => true),
    ]);
    const what = `${connections} connections, ${
      (sent / MIB).toFixed(0)
    } MiB sent`;
    if (died) return { text: `server died; ${what}`, ok: false };
    let cut = 0;
    await Promise.all(conns.map(async (conn) => {
      if (await endsWithin(conn, 2000)) cut++;
    }));
    return {
      text: `${what}; after ${seconds(ms)} ${cut} cut, ${
        connections - cut
      } held`,
      ok: true,
    };
  } finally {
    for (const conn of conns) closeQuietly(conn);
  }
}

/** Reads `conn` for up to `ms`: whether it ended (EOF or an error). */
async function endsWithin(conn: Deno.TcpConn, ms: number): Promise<boolean> {
  const buffer = new Uint8Array(256 * 1024);
  const deadline = performance.now() + ms;
  try {
    while (performance.now() < deadline) {
      const n = await Promise.race([
        conn.read(buffer),
        delay(deadline - performance.now()).then(() => undefined),
      ]);
      if (n === undefined) return false;
      if (n === null) return true;
    }
    return false;
  } catch (error) {
    return errorText(error).length > 0;
  }
}
