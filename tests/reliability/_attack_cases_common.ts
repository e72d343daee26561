// What the attacks of `deno task attack` share: what they see of the server,
// the offender's outcome, raw-socket helpers and one RPC call.
import {
  type CodecName,
  codecOf,
  FrameReader,
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

export const MIB = 1024 * 1024;

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function errorText(error: unknown): string {
  return error instanceof Error
    ? `${error.name}: ${error.message}`
    : String(error);
}

export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

export function connect(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
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
