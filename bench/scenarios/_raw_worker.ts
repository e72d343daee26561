// The raw partner of the workers family: a plain Worker (no aiomas) that
// answers {id, n, seed} with crunch(n, seed) over postMessage.
import type { CpuStats } from "../_cpu_agents.ts";

/** A plain Worker answering `{id, n, seed}` with `crunch(n, seed)`. */
export interface RawWorker {
  call(n: number, seed: number): Promise<number>;
  /** `crunch` calls and the time spent in them since the last `stats()`. */
  stats(): CpuStats;
  terminate(): void;
}

export function startRawWorker(url: string, name: string): RawWorker {
  const worker = new Worker(url, { type: "module", name });
  const pending = new Map<number, (checksum: number) => void>();
  let nextId = 0;
  let calls = 0;
  let busyMs = 0;
  worker.onmessage = (
    event: MessageEvent<{ id: number; checksum: number; ms: number }>,
  ) => {
    const { id, checksum, ms } = event.data;
    calls++;
    busyMs += ms;
    const resolve = pending.get(id);
    pending.delete(id);
    resolve?.(checksum);
  };
  worker.onerror = (event) => {
    event.preventDefault();
    console.error(`raw worker ${name} failed: ${event.message}`);
  };
  return {
    call(n, seed) {
      const id = nextId++;
      const { promise, resolve } = Promise.withResolvers<number>();
      pending.set(id, resolve);
      worker.postMessage({ id, n, seed });
      return promise;
    },
    stats() {
      const stats = { calls, busyMs };
      calls = 0;
      busyMs = 0;
      return stats;
    },
    terminate: () => worker.terminate(),
  };
}
