// Where a CPU batch of the workers family spent its wall time, per thread,
// from Linux's /proc/self/task/<tid>/schedstat: on a CPU, runnable but
// waiting for one, idle; and how many cores other processes used meanwhile
// (/proc/stat). Deno reads /proc only with -A; without it the table shows ?.

/** A thread's scheduler times so far, ms (Linux `/proc/self/task/<tid>/schedstat`). */
import { median } from "../_measure.ts";
import type { BatchSample, CpuScenario } from "./_workers_setup.ts";

export interface ThreadTime {
  comm: string;
  /** On a CPU. */
  run: number;
  /** Runnable, waiting for a CPU (taken by other threads or processes). */
  wait: number;
}

export const hasSchedstat = (() => {
  try {
    Deno.readTextFileSync("/proc/thread-self/schedstat");
    return true;
  } catch {
    return false;
  }
})();

/** Every thread of this process by tid (empty where there is no schedstat). */
export function threadTimes(): Map<string, ThreadTime> {
  const times = new Map<string, ThreadTime>();
  if (!hasSchedstat) return times;
  for (const entry of Deno.readDirSync("/proc/self/task")) {
    try {
      const dir = `/proc/self/task/${entry.name}`;
      const [run, wait] = Deno.readTextFileSync(`${dir}/schedstat`).split(" ")
        .map(Number);
      const comm = Deno.readTextFileSync(`${dir}/comm`).trim();
      times.set(entry.name, { comm, run: run / 1e6, wait: wait / 1e6 });
    } catch {
      // The thread ended meanwhile.
    }
  }
  return times;
}

/** Busy CPU time of the whole machine so far, ms (`/proc/stat`, 10 ms ticks). */
export function machineBusyMs(): number | undefined {
  try {
    const line = Deno.readTextFileSync("/proc/stat").split("\n")[0];
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest is in user).
    const busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] +
      ticks[7];
    return busy * 10;
  } catch {
    return undefined;
  }
}

/** Where a batch's wall time went, per thread kind, ms. */
export interface ThreadSplit {
  /** The main thread (the parent container and the caller). */
  mainRun: number;
  mainWait: number;
  /** The busiest `threads` Worker threads, averaged: on a CPU, runnable, neither (idle). */
  workerRun: number;
  workerWait: number;
  workerIdle: number;
  /** Every other thread (V8 helpers, tokio), summed. */
  otherRun: number;
  /** Cores used by other processes meanwhile (10 ms ticks: rough). */
  otherProcesses: number;
}

export function threadSplit(
  before: Map<string, ThreadTime>,
  after: Map<string, ThreadTime>,
  wallMs: number,
  threads: number,
  machineMs: number,
  processMs: number,
): ThreadSplit | undefined {
  if (!hasSchedstat) return undefined;
  const mainTid = String(Deno.pid);
  const split: ThreadSplit = {
    mainRun: 0,
    mainWait: 0,
    workerRun: 0,
    workerWait: 0,
    workerIdle: 0,
    otherRun: 0,
    otherProcesses: 0,
  };
  const workers: { run: number; wait: number }[] = [];
  for (const [tid, end] of after) {
    const start = before.get(tid) ?? { comm: end.comm, run: 0, wait: 0 };
    const run = end.run - start.run;
    const wait = end.wait - start.wait;
    if (tid === mainTid) {
      split.mainRun = run;
      split.mainWait = wait;
    } else if (end.comm.startsWith("worker-")) {
      workers.push({ run, wait });
    } else {
      split.otherRun += run;
    }
  }
  split.otherProcesses = Math.max(0, (machineMs - processMs) / wallMs);
  workers.sort((a, b) => b.run - a.run);
  for (const [i, worker] of workers.entries()) {
    if (i < threads) {
      split.workerRun += worker.run / threads;
      split.workerWait += worker.wait / threads;
      split.workerIdle += (wallMs - worker.run - worker.wait) / threads;
    } else {
      split.otherRun += worker.run;
    }
  }
  return split;
}

export interface TimeSplitRow {
  scenario: string;
  wallMs: number;
  repliesPerBurst: number;
  threads?: ThreadSplit;
}

export function timeSplit(
  cpu: Map<string, BatchSample[]>,
  scenarios: CpuScenario[],
): TimeSplitRow[] {
  return scenarios.map((scenario) => {
    const samples = cpu.get(scenario.id)!;
    const row: TimeSplitRow = {
      scenario: scenario.label,
      wallMs: median(samples.map((s) => s.ms)),
      repliesPerBurst: median(samples.map((s) => s.repliesPerBurst)),
    };
    if (samples[0].threads !== undefined) {
      const m = (key: keyof ThreadSplit) =>
        median(samples.map((s) => s.threads![key]));
      row.threads = {
        mainRun: m("mainRun"),
        mainWait: m("mainWait"),
        workerRun: m("workerRun"),
        workerWait: m("workerWait"),
        workerIdle: m("workerIdle"),
        otherRun: m("otherRun"),
        otherProcesses: m("otherProcesses"),
      };
    }
    return row;
  });
}

export function printTimeSplit(rows: TimeSplitRow[]): void {
  if (!hasSchedstat) {
    console.log(
      "\n(no per-thread times: they need Linux /proc, which Deno reads only with -A)",
    );
  }
  console.log(
    "\nwhere a batch's time went (medians, ms; run = on a CPU, wait = runnable but no CPU free, idle = waiting for messages):",
  );
  const header = [
    "CPU batch",
    "wall",
    "main thread run + wait",
    "each worker thread run + wait + idle",
    "other threads run",
    "other processes",
    "replies/burst",
  ];
  const f = (v: number) => v.toFixed(0);
  const body = rows.map((row) => {
    const t = row.threads;
    const local = row.scenario.startsWith("parent");
    return [
      row.scenario,
      f(row.wallMs),
      t === undefined ? "?" : `${f(t.mainRun)} + ${f(t.mainWait)}`,
      t === undefined || local
        ? ""
        : `${f(t.workerRun)} + ${f(t.workerWait)} + ${f(t.workerIdle)}`,
      t === undefined ? "?" : f(t.otherRun),
      t === undefined ? "?" : `${t.otherProcesses.toFixed(2)} cores`,
      row.repliesPerBurst.toFixed(1),
    ];
  });
  const widths = header.map((h, i) =>
    Math.max(h.length, ...body.map((cells) => cells[i].length))
  );
  const line = (cells: string[]) =>
    "| " + cells.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  console.log(line(header));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const cells of body) console.log(line(cells));
}
