// A Worker of `deno task attack`, on its own event loop so that the
// attacker's work does not delay its clock: a well-behaved client that
// calls `echo` over one connection, one call at a time, a few ms apart,
// and a sampler of the server's memory (`/proc/<pid>/status` every ~20 ms)
// that kills the server beyond a safety limit (the machine is shared).
import { sampleMemory } from "./_attack_rss.ts";
import {
  type CodecName,
  codecOf,
  FrameReader,
  requestFrame,
} from "./_attack_wire.ts";

/** What the attacker tells the probe. */
export type ProbeCommand =
  | {
    type: "start";
    port: number;
    pid: number;
    codec: CodecName;
    rssKillBytes: number;
  }
  | { type: "stop" };

/** What the probe reports. */
export type ProbeReport =
  | { type: "ready" }
  | {
    type: "report";
    /** Worst reply latency (ms), counting a call still unanswered at stop. */
    worstMs: number;
    calls: number;
    /** Connection failures of the good client, and the first one's text. */
    errors: number;
    firstError?: string;
    /** Highest VmRSS sampled and VmHWM at the last sample (bytes). */
    peakRss: number;
    hwm: number;
    /** Set when the sampler killed the server for exceeding the limit. */
    killedAt?: number;
  };

const PACE_MS = 5;

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<ProbeCommand>) => void) | null;
  postMessage(message: ProbeReport): void;
  close(): void;
};

let stopping = false;
const stopped = Promise.withResolvers<void>();

scope.onmessage = (event) => {
  const command = event.data;
  if (command.type === "start") run(command);
  else {
    stopping = true;
    stopped.resolve();
  }
};

async function run(start: Extract<ProbeCommand, { type: "start" }>) {
  let peakRss = 0;
  let hwm = 0;
  let killedAt: number | undefined;
  const sampling = new AbortController();
  const sampler = sampleMemory(start.pid, 20, sampling.signal, (memory) => {
    peakRss = Math.max(peakRss, memory.rss);
    hwm = Math.max(hwm, memory.hwm);
    if (memory.rss > start.rssKillBytes && killedAt === undefined) {
      killedAt = memory.rss;
      try {
        Deno.kill(start.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }).catch(() => {});

  const codec = codecOf(start.codec);
  let worstMs = 0;
  let calls = 0;
  let errors = 0;
  let firstError: string | undefined;
  let conn: Deno.Conn | undefined;
  let callStart: number | undefined;
  const client = (async () => {
    let id = 0;
    while (!stopping) {
      try {
        conn = await Deno.connect({ hostname: "127.0.0.1", port: start.port });
        const reader = new FrameReader(conn);
        while (!stopping) {
          const value = `ping ${id}`;
          const request = await requestFrame(codec, id, "echo", [value]);
          callStart = performance.now();
          let at = 0;
          while (at < request.length) {
            at += await conn.write(request.subarray(at));
          }
          const reply = await reader.read();
          if (reply === null) {
            throw new Error("connection closed by the server");
          }
          const decoded = await codec.decode(reply.payload!) as unknown[];
          if (decoded[0] !== 1 || decoded[1] !== id || decoded[2] !== value) {
            throw new Error(`wrong reply ${JSON.stringify(decoded)}`);
          }
          worstMs = Math.max(worstMs, performance.now() - callStart);
          callStart = undefined;
          calls++;
          id++;
          if (calls === 1) scope.postMessage({ type: "ready" });
          await Promise.race([
            new Promise((resolve) => setTimeout(resolve, PACE_MS)),
            stopped.promise,
          ]);
        }
      } catch (error) {
        if (stopping) break;
        errors++;
        firstError ??= error instanceof Error
          ? `${error.name}: ${error.message}`
          : String(error);
        if (callStart !== undefined) {
          worstMs = Math.max(worstMs, performance.now() - callStart);
          callStart = undefined;
        }
        try {
          conn?.close();
        } catch {
          // Already closed.
        }
        conn = undefined;
        await Promise.race([
          new Promise((resolve) => setTimeout(resolve, 100)),
          stopped.promise,
        ]);
      }
    }
  })();

  await stopped.promise;
  // A call still waiting counts with the time it has waited.
  if (callStart !== undefined) {
    worstMs = Math.max(worstMs, performance.now() - callStart);
  }
  try {
    conn?.close();
  } catch {
    // Already closed.
  }
  await client;
  sampling.abort();
  await sampler;
  scope.postMessage({
    type: "report",
    worstMs,
    calls,
    errors,
    firstError,
    peakRss,
    hwm,
    killedAt,
  });
  scope.close();
}
