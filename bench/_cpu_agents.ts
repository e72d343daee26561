// Agents of the worker benchmark (bench/workers.ts), spawned in the parent
// container and in worker containers with
// `manager.spawn(new URL("./_cpu_agents.ts", import.meta.url).href + "#CpuAgent")`.
import { Agent, expose } from "../mod.ts";

/**
 * Pure CPU work: `n` rounds of a xorshift32 generator folded into an
 * FNV-1a-style hash (integer math only, no allocation). The checksum
 * depends on every round, so the loop cannot be optimized away, and on
 * `seed`, so that every call of a batch has its own answer to check.
 * About 1.5–2 ns a round on a current x86 core.
 *
 * @param n Rounds.
 * @param seed Any integer.
 * @returns The checksum, an unsigned 32-bit integer.
 */
export function crunch(n: number, seed: number): number {
  let x = (seed ^ 0x9e3779b9) | 1;
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    h = Math.imul(h ^ (x & 0xffff), 0x01000193);
  }
  return h >>> 0;
}

/** What {@linkcode CpuAgent.stats} answers. */
export interface CpuStats {
  /** `work` calls since the last reset. */
  calls: number;
  /** Wall time spent inside `work` since the last reset, ms. */
  busyMs: number;
}

/** An agent whose `work(n, seed)` is a fixed amount of CPU work. */
export class CpuAgent extends Agent {
  #calls = 0;
  #busyMs = 0;

  /**
   * Does `crunch(n, seed)`: about 1.5–2 ns × n of one core.
   *
   * @returns The checksum.
   */
  @expose
  work(n: number, seed: number): number {
    const start = performance.now();
    const checksum = crunch(n, seed);
    this.#busyMs += performance.now() - start;
    this.#calls++;
    return checksum;
  }

  /** The calls and busy time since the last call of `stats`, which resets them. */
  @expose
  stats(): CpuStats {
    const stats = { calls: this.#calls, busyMs: this.#busyMs };
    this.#calls = 0;
    this.#busyMs = 0;
    return stats;
  }
}

/** The trivial agent of the call-cost scenarios. */
export class EchoAgent extends Agent {
  @expose
  echo(x: unknown): unknown {
    return x;
  }

  /**
   * Profiles this agent's thread (e.g. a worker) for `ms` milliseconds,
   * writes the profile to `path` and answers its summary (see
   * `_profiler.ts`). The caller keeps the thread busy meanwhile.
   */
  @expose
  async profile(ms: number, path: string, top = 25): Promise<string> {
    const { startProfiler, summarize } = await import("./_profiler.ts");
    const profiler = await startProfiler();
    await new Promise((resolve) => setTimeout(resolve, ms));
    const profile = await profiler.stop();
    await Deno.writeTextFile(path, JSON.stringify(profile));
    return summarize(profile, top);
  }
}

/**
 * The source of a plain Worker (no aiomas) that answers `{id, n, seed}`
 * with `{id, checksum: crunch(n, seed), ms}` (`ms`: the time it took): the baseline of the parallel
 * speed-up on this machine, for `new Worker(URL.createObjectURL(...))`.
 */
export const RAW_WORKER_SOURCE = `
import { crunch } from ${JSON.stringify(import.meta.url)};
self.onmessage = (event) => {
  const { id, n, seed } = event.data;
  const start = performance.now();
  const checksum = crunch(n, seed);
  self.postMessage({ id, checksum, ms: performance.now() - start });
};
`;
