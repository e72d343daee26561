// How every paired scenario is measured: in each round, a scenario runs
// for --round-ms in --slice-ms slices that alternate with slices of its raw
// partner, and its ratio is the median over rounds of (scenario / partner).
// The VM's speed drifts within a fraction of a second; slices that
// alternate see the same drift, so the per-round ratios stay within a few
// hundredths where 1 s runs side by side scattered from 0.45 to 1.25.
import process from "node:process";
import { ioCounts } from "./_io_counter.ts";

/**
 * A measurement: `ops` operations in `ms` milliseconds, and the CPU time
 * (user + system, µs) this process and the peer used meanwhile.
 */
export interface Sample {
  ops: number;
  ms: number;
  cpuUs?: number;
  peerCpuUs?: number;
  /** Socket reads and writes in this process and the peer (`--count-io`). */
  io?: { reads: number; writes: number; peerReads: number; peerWrites: number };
}

/** A scenario: something that runs for about `ms` and counts operations. */
export interface Scenario {
  id: string;
  run(ms: number): Promise<Sample>;
  /** Its raw partner: measured in alternating slices beside it. */
  partner?: Scenario;
}

/** Where the CPU time and I/O counts of the peer process come from. */
export interface PeerStats {
  cpuUs: number;
  reads: number;
  writes: number;
}

/** How the rounds are run. */
export interface RoundOptions {
  rounds: number;
  roundMs: number;
  sliceMs: number;
  warmupMs: number;
  countIo: boolean;
  /** The peer's counters, if the scenarios talk to a peer process. */
  peerStats?: () => Promise<PeerStats>;
  log: (line: string) => void;
}

/** The median of `values` (NaN for none). */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Operations per second of one sample. */
export const rateOf = (s: Sample): number => s.ops / s.ms * 1000;
/** Microseconds per operation (round trip) of one sample. */
export const rttOf = (s: Sample): number => s.ms * 1000 / s.ops;
/** The median over samples of `value` per operation (CPU time, I/O calls). */
export function perOp(
  list: Sample[],
  value: (s: Sample) => number | undefined,
): number {
  return median(list.map((s) => (value(s) ?? NaN) / s.ops));
}

/**
 * How many calls each loop of a pipelined scenario makes between two
 * looks at the clock: the raw baseline reads it once per 16 frames too.
 */
export const CLOCK_EVERY = 16;

/**
 * Runs `workers` loops of `call(worker)` until `ms` passed; each looks at
 * the clock every `batch` calls.
 */
export async function closedLoop(
  ms: number,
  workers: number,
  call: (worker: number) => Promise<unknown>,
  batch = 1,
): Promise<Sample> {
  const start = performance.now();
  const deadline = start + ms;
  let ops = 0;
  const worker = async (index: number) => {
    while (performance.now() < deadline) {
      for (let i = 0; i < batch; i++) await call(index);
      ops += batch;
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, i) => worker(i)));
  return { ops, ms: performance.now() - start };
}

/**
 * The clock shared by all loops of a scenario: `tick()` counts one
 * operation, and every `every` operations (of all loops together) looks at
 * the clock; `late` turns true for every loop at once. With one deadline
 * check per operation in each of 1600 loops the check itself costs, and
 * loops that time themselves stop at different moments.
 */
export interface SharedClock {
  readonly late: boolean;
  readonly ops: number;
  tick(count?: number): void;
}

/** A shared clock whose slice ends `ms` after now. */
export function sharedClock(ms: number, every = CLOCK_EVERY): SharedClock {
  const deadline = performance.now() + ms;
  let ops = 0;
  let untilLook = every;
  let late = false;
  return {
    get late() {
      return late;
    },
    get ops() {
      return ops;
    },
    tick(count = 1) {
      ops += count;
      untilLook -= count;
      if (untilLook <= 0) {
        untilLook = every;
        if (performance.now() >= deadline) late = true;
      }
    },
  };
}

/**
 * Runs `workers` loops of `call(worker)` on one shared clock until `ms`
 * passed: every loop stops when the slice ends for all, and the sample is
 * the calls of all loops over one wall time (their drain included).
 */
export async function sharedClockLoop(
  ms: number,
  workers: number,
  call: (worker: number) => Promise<unknown>,
): Promise<Sample> {
  const start = performance.now();
  const clock = sharedClock(ms);
  const worker = async (index: number) => {
    while (!clock.late) {
      await call(index);
      clock.tick();
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, i) => worker(i)));
  return { ops: clock.ops, ms: performance.now() - start };
}

/** Runs `run` on every item at once; the operations of all, one wall time. */
export async function together<T>(
  items: T[],
  run: (item: T) => Promise<Sample>,
): Promise<Sample> {
  const start = performance.now();
  const samples = await Promise.all(items.map(run));
  return {
    ops: samples.reduce((sum, s) => sum + s.ops, 0),
    ms: performance.now() - start,
  };
}

/** Runs a scenario once, with the CPU time of both processes. */
async function measure(
  scenario: Scenario,
  options: RoundOptions,
  ms: number,
): Promise<Sample> {
  const peerBefore = await options.peerStats?.();
  const ioBefore = { ...ioCounts };
  const before = process.cpuUsage();
  const sample = await scenario.run(ms);
  const used = process.cpuUsage(before);
  const ioAfter = { ...ioCounts };
  const peerAfter = await options.peerStats?.();
  const peerDelta = (key: keyof PeerStats) =>
    peerBefore === undefined || peerAfter === undefined
      ? 0
      : peerAfter[key] - peerBefore[key];
  return {
    ...sample,
    cpuUs: used.user + used.system,
    peerCpuUs: peerDelta("cpuUs"),
    io: options.countIo
      ? {
        reads: ioAfter.reads - ioBefore.reads,
        writes: ioAfter.writes - ioBefore.writes,
        peerReads: peerDelta("reads"),
        peerWrites: peerDelta("writes"),
      }
      : undefined,
  };
}

/** The samples of a round's slices as one. */
function sumSamples(slices: Sample[], countIo: boolean): Sample {
  const sum = (value: (s: Sample) => number | undefined) =>
    slices.reduce((total, s) => total + (value(s) ?? 0), 0);
  return {
    ops: sum((s) => s.ops),
    ms: sum((s) => s.ms),
    cpuUs: sum((s) => s.cpuUs),
    peerCpuUs: sum((s) => s.peerCpuUs),
    io: countIo
      ? {
        reads: sum((s) => s.io?.reads),
        writes: sum((s) => s.io?.writes),
        peerReads: sum((s) => s.io?.peerReads),
        peerWrites: sum((s) => s.io?.peerWrites),
      }
      : undefined,
  };
}

/** Where the partner run of scenario `id` is kept in the samples. */
export function partnerId(id: string): string {
  return `${id}@raw`;
}

/**
 * Warms every scenario and partner up, then runs `rounds` rounds: a
 * scenario without a partner runs for the whole round, one with a partner
 * in alternating slices beside it. Returns the samples by scenario id, and
 * the partners' under `partnerId(id)`.
 */
export async function runRounds(
  scenarios: Scenario[],
  options: RoundOptions,
): Promise<Map<string, Sample[]>> {
  const warm = new Set<Scenario>();
  for (const scenario of scenarios) {
    for (const s of [scenario.partner, scenario]) {
      if (s !== undefined && !warm.has(s)) {
        warm.add(s);
        await s.run(options.warmupMs);
      }
    }
  }
  const samples = new Map<string, Sample[]>();
  const record = (id: string, sample: Sample) => {
    if (!samples.has(id)) samples.set(id, []);
    samples.get(id)!.push(sample);
  };
  for (let round = 0; round < options.rounds; round++) {
    for (const scenario of scenarios) {
      const partner = scenario.partner;
      if (partner === undefined) {
        record(scenario.id, await measure(scenario, options, options.roundMs));
        continue;
      }
      const raws: Sample[] = [];
      const owns: Sample[] = [];
      for (let ms = 0; ms < options.roundMs; ms += options.sliceMs) {
        raws.push(await measure(partner, options, options.sliceMs));
        owns.push(await measure(scenario, options, options.sliceMs));
      }
      record(partnerId(scenario.id), sumSamples(raws, options.countIo));
      record(scenario.id, sumSamples(owns, options.countIo));
    }
    options.log(`  round ${round + 1}/${options.rounds} done`);
  }
  return samples;
}
