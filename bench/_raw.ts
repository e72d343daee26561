// The raw partners: plain Deno.Conn clients of the peer's raw echo server,
// which echoes complete 4-byte-length frames, all frames of a read in one
// write. They do what a scenario does with no library at all.
import { writeAll } from "./_conn.ts";
import { type Sample, type SharedClock, sharedClock } from "./_measure.ts";

/** The frame size of the small-message raw runs (4-byte length + 60). */
export const RAW_FRAME = 64;

/** `count` frames of `frameSize` bytes each (4-byte length + payload). */
export function rawFrames(count: number, frameSize = RAW_FRAME): Uint8Array {
  const bytes = new Uint8Array(count * frameSize).fill(0x78);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < count; i++) view.setUint32(i * frameSize, frameSize - 4);
  return bytes;
}

/** One frame carrying `payload` (the header and a copy of the bytes). */
export function rawFrameOf(payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(4 + payload.length);
  new DataView(frame.buffer).setUint32(0, payload.length);
  frame.set(payload, 4);
  return frame;
}

/** Opens a TCP connection with Nagle off. */
export async function connectRaw(
  hostname: string,
  port: number,
): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname, port });
  conn.setNoDelay(true);
  return conn;
}

/** Serial ping-pong: write one frame, read its echo, repeat. */
export async function rawSerial(conn: Deno.Conn, ms: number): Promise<Sample> {
  const frame = rawFrames(1);
  const buffer = new Uint8Array(RAW_FRAME);
  const start = performance.now();
  const deadline = start + ms;
  let ops = 0;
  while (performance.now() < deadline) {
    await writeAll(conn, frame);
    let got = 0;
    while (got < RAW_FRAME) {
      const n = await conn.read(buffer.subarray(got));
      if (n === null) throw new Error("the raw peer closed the connection");
      got += n;
    }
    ops++;
  }
  return { ops, ms: performance.now() - start };
}

/**
 * `inflight` frames outstanding: every read that completes k echoes is
 * answered by one write of k new frames (as the channel coalesces the
 * frames of one tick into one write).
 */
export async function rawPipelined(
  conn: Deno.Conn,
  ms: number,
  inflight: number,
): Promise<Sample> {
  const start = performance.now();
  const clock = sharedClock(ms, 1);
  await rawPipelinedOn(conn, clock, inflight);
  return { ops: clock.ops, ms: performance.now() - start };
}

/**
 * `rawPipelined` on every connection of `conns` at once, on one shared
 * clock (as `sharedClockLoop` runs the library's calls): every connection
 * stops sending when the slice ends for all.
 */
export async function rawPipelinedAll(
  conns: Deno.Conn[],
  ms: number,
  inflight: number,
): Promise<Sample> {
  const start = performance.now();
  const clock = sharedClock(ms);
  await Promise.all(conns.map((conn) => rawPipelinedOn(conn, clock, inflight)));
  return { ops: clock.ops, ms: performance.now() - start };
}

async function rawPipelinedOn(
  conn: Deno.Conn,
  clock: SharedClock,
  inflight: number,
): Promise<void> {
  const frames = rawFrames(inflight);
  const buffer = new Uint8Array(64 * 1024);
  await writeAll(conn, frames);
  let outstanding = inflight;
  let pendingBytes = 0;
  while (outstanding > 0) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("the raw peer closed the connection");
    pendingBytes += n;
    const done = Math.floor(pendingBytes / RAW_FRAME);
    pendingBytes -= done * RAW_FRAME;
    outstanding -= done;
    if (done > 0) {
      clock.tick(done);
      if (!clock.late) {
        await writeAll(conn, frames.subarray(0, done * RAW_FRAME));
        outstanding += done;
      }
    }
  }
}

/**
 * `inflight` writers of `frame` (each frame its own write) and one reader
 * that counts the echoed frames. Only the reader looks at the clock: had
 * the writers looked too, they could stop after the reader had decided to
 * read once more, for an echo that never comes. With `frame` 64 bytes
 * this is raw sockets used the way a library without batching would use
 * them; with a large `frame` it is the raw partner of the bulk echoes
 * (writing and reading at once, as a channel does). With `owned` (against
 * the peer's `rawOwned`), each echo is copied into fresh memory on both
 * sides: what handing received bytes over costs at the least.
 */
export async function rawEach(
  conn: Deno.Conn,
  ms: number,
  inflight: number,
  frame: Uint8Array = rawFrames(1),
  owned = false,
): Promise<Sample> {
  const size = frame.length;
  /** With `owned`: the echo being received, in fresh memory of its own. */
  let echo: Uint8Array | null = null;
  let echoFilled = 0;
  const buffer = new Uint8Array(Math.min(256 * 1024, Math.max(size, 65536)));
  let waiters: (() => void)[] = [];
  let head = 0;
  let outstanding = 0;
  let pendingBytes = 0;
  let ops = 0;
  let late = false;
  const start = performance.now();
  const deadline = start + ms;
  // A large frame may take several writes: one writer at a time then.
  let writing = Promise.resolve();
  const write = size <= RAW_FRAME
    ? () => writeAll(conn, frame)
    : () => writing = writing.then(() => writeAll(conn, frame));
  const worker = async () => {
    while (!late) {
      const reply = new Promise<void>((resolve) => waiters.push(resolve));
      outstanding++;
      await write();
      await reply;
      ops++;
    }
  };
  const workers = Promise.all(Array.from({ length: inflight }, worker));
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("the raw peer closed the connection");
    pendingBytes += n;
    // Each echo is copied out of the read buffer once, into a buffer of its
    // own, as bytes handed to the code that asked for them must be.
    for (let at = 0; owned && at < n;) {
      echo ??= new Uint8Array(size);
      const take = Math.min(size - echoFilled, n - at);
      echo.set(buffer.subarray(at, at + take), echoFilled);
      echoFilled += take;
      at += take;
      if (echoFilled === size) {
        echo = null;
        echoFilled = 0;
      }
    }
    if (performance.now() >= deadline) late = true;
    for (; pendingBytes >= size; pendingBytes -= size) {
      outstanding--;
      waiters[head++]();
    }
    if (head === waiters.length) {
      waiters = [];
      head = 0;
    }
    if (outstanding === 0 && late) break;
  }
  await workers;
  return { ops, ms: performance.now() - start };
}
