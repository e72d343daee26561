// Raw connection helpers shared by the benchmark's hand-made clients and peers.

/** Writes all of `bytes`, however many writes it takes. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

/** The payload length in the 4-byte big-endian frame header at `at`. */
export function frameLength(buffer: Uint8Array, at: number): number {
  return ((buffer[at] << 24) | (buffer[at + 1] << 16) |
    (buffer[at + 2] << 8) | buffer[at + 3]) >>> 0;
}
