/**
 * End-to-end benchmarks against a peer in a separate process
 * (`bench/_peer.ts`), each compared with a raw `Deno.Conn` baseline
 * measured in the same run, in interleaved rounds. In every round, each
 * scenario compared with raw is measured in slices of --slice-ms that
 * alternate with slices of a raw run of its own, and its ratio is the
 * median of these per-round ratios: the VM's speed drifts within a
 * fraction of a second, and slices that alternate see the same drift.
 *
 *   deno run -A bench/e2e.ts             # ~2 min; table, JSON and SVG
 *   deno run -A bench/e2e.ts --quick     # ~20 s, for a smoke test
 *   deno run -A bench/e2e.ts --profile=channelPipe
 *       # one scenario for --profile-ms (default 4000) with the CPU profiler
 *       # on in both processes; prints where the time went and writes
 *       # bench/results/profiles/<scenario>.{client,peer}.cpuprofile
 *
 *   deno run -A bench/e2e.ts --only=channelPipe,rpcPipe
 *       # just these scenarios and the raw baselines, a short table, no files
 *
 * Options: --rounds=N (5), --round-ms=MS (1000), --slice-ms=MS (50),
 * --warmup-ms=MS (500),
 * --inflight=N (16), --agents=N (100000), --count-io (also count socket
 * reads and writes per operation in both processes, by wrapping the stream
 * reader/writer and Deno.Conn methods).
 *
 * The 100 k agents scenario runs in a child process started with
 * `--v8-flags=--expose-gc`, so that heap is measured after a full GC and
 * apart from everything else.
 *
 * Results: bench/results/latest.json and bench/results/latest.svg.
 */
import {
  Agent,
  type AgentProxy,
  type Channel,
  type CodecClass,
  Container,
  JsonCodec,
  MsgPackCodec,
  openConnection,
  rpc,
} from "../mod.ts";
import process from "node:process";
import { Calc, type MathService, Tiny } from "./_agents.ts";
import { PAYLOAD_48 } from "./_messages.ts";
import { writeAll } from "./_conn.ts";
import { minimalClient } from "./_minimal.ts";
import { installIoCounter, ioCounts } from "./_io_counter.ts";
import { type Profiler, startProfiler, summarize } from "./_profiler.ts";
import { numberOption, option } from "./_options.ts";

// ---------------------------------------------------------------- options

const quick = option("quick") !== undefined;
const ROUNDS = numberOption("rounds", quick ? 3 : 5);
const ROUND_MS = numberOption("round-ms", quick ? 300 : 1000);
/** A round of a scenario paired with raw alternates slices of this length. */
const SLICE_MS = numberOption("slice-ms", 50);
const WARMUP_MS = numberOption("warmup-ms", quick ? 200 : 500);
const INFLIGHT = numberOption("inflight", 16);
const AGENTS = numberOption("agents", 100_000);
const PROFILE = option("profile");
const PROFILE_MS = numberOption("profile-ms", 4000);
const COUNT_IO = option("count-io") !== undefined;
const ONLY = option("only")?.split(",").filter((id) => id !== "");
/** The whole run is stopped (peer killed, exit code 1) after this. */
const WATCHDOG_MS = 170_000;

const HOST = "127.0.0.1";
const RAW_FRAME = 64;
const here = new URL(".", import.meta.url);
const resultsDir = new URL("results/", here);

// ---------------------------------------------------------------- the 100k agents child

interface AgentsResult {
  agents: number;
  createMs: number[];
  heapBytesPerAgent: number[];
  gc: boolean;
}

async function agentsChild(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const collect = () => {
    if (gc) {
      gc();
      gc();
    }
  };
  // Warm up the code paths (JIT) on a small container first.
  const warm = await Container.create("local://agents-warmup");
  for (let i = 0; i < 2000; i++) new Tiny(warm);
  await warm.shutdown();
  const createMs: number[] = [];
  const perAgent: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    let container: Container | undefined = await Container.create(
      `local://agents-${rep}`,
    );
    collect();
    const before = Deno.memoryUsage().heapUsed;
    const start = performance.now();
    for (let i = 0; i < AGENTS; i++) new Tiny(container);
    createMs.push(performance.now() - start);
    collect();
    const after = Deno.memoryUsage().heapUsed;
    perAgent.push((after - before) / AGENTS);
    if (container.agents.size !== AGENTS) {
      throw new Error(
        `expected ${AGENTS} agents, got ${container.agents.size}`,
      );
    }
    await container.shutdown();
    container = undefined;
    collect();
  }
  const result: AgentsResult = {
    agents: AGENTS,
    createMs,
    heapBytesPerAgent: perAgent,
    gc: gc !== undefined,
  };
  console.log(JSON.stringify(result));
}

async function runAgentsChild(): Promise<AgentsResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--v8-flags=--expose-gc",
      new URL(import.meta.url).pathname,
      "--agents-child",
      `--agents=${AGENTS}`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error("the 100k agents child failed");
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as AgentsResult;
}

// ---------------------------------------------------------------- the peer

interface PeerInfo {
  raw: number;
  minimalJson: number;
  minimalMsgpack: number;
  channelJson: number;
  channelMsgpack: number;
  channelMsgpackEach: number;
  rpcMsgpack: number;
  agent: string;
  pid: number;
}

interface PeerStats {
  cpuUs: number;
  reads: number;
  writes: number;
}

interface Peer {
  info: PeerInfo;
  /** The peer's user + system CPU time so far (µs), and its socket I/O counts. */
  stats(): Promise<PeerStats>;
  stop(): Promise<void>;
}

async function startPeer(profilePath?: string): Promise<Peer> {
  const args = ["run", "--allow-all", new URL("_peer.ts", here).pathname];
  if (profilePath !== undefined) args.push(`--profile=${profilePath}`);
  if (COUNT_IO) args.push("--count-io");
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stdin = child.stdin.getWriter();
  const output = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const nextLine = async (): Promise<string> => {
    for (;;) {
      const newline = text.indexOf("\n");
      if (newline >= 0) {
        const line = text.slice(0, newline);
        text = text.slice(newline + 1);
        return line;
      }
      const { value, done } = await output.read();
      if (done) throw new Error(`the peer exited (it printed: ${text})`);
      text += value;
    }
  };
  let info: PeerInfo;
  try {
    info = JSON.parse(await nextLine()) as PeerInfo;
  } catch (error) {
    await child.status;
    throw error;
  }
  const encoder = new TextEncoder();
  return {
    info,
    async stats() {
      await stdin.write(encoder.encode("cpu\n"));
      return JSON.parse(await nextLine()) as PeerStats;
    },
    async stop() {
      // Closing its stdin asks it to stop; kill it if it does not.
      await stdin.close().catch(() => {});
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Gone already.
        }
      }, 10_000);
      const status = await child.status;
      clearTimeout(timer);
      // Pass on anything else it printed (nothing is expected).
      for (;;) {
        const { value, done } = await output.read();
        if (done) break;
        text += value;
      }
      if (text.trim() !== "") console.error(`[peer] ${text.trim()}`);
      if (!status.success) console.error(`peer exited with ${status.code}`);
    },
  };
}

// ---------------------------------------------------------------- measuring

/**
 * One round's measurement: `ops` operations in `ms` milliseconds, and the
 * CPU time (user + system, µs) this process and the peer used meanwhile.
 */
interface Sample {
  ops: number;
  ms: number;
  cpuUs?: number;
  peerCpuUs?: number;
  /** Socket reads and writes in this process and the peer (`--count-io`). */
  io?: { reads: number; writes: number; peerReads: number; peerWrites: number };
}

/** Runs a scenario once, with the CPU time of both processes. */
async function measure(
  scenario: Scenario,
  peer: Peer,
  ms: number,
): Promise<Sample> {
  const peerBefore = await peer.stats();
  const ioBefore = { ...ioCounts };
  const before = process.cpuUsage();
  const sample = await scenario.run(ms);
  const used = process.cpuUsage(before);
  const ioAfter = { ...ioCounts };
  const peerAfter = await peer.stats();
  return {
    ...sample,
    cpuUs: used.user + used.system,
    peerCpuUs: peerAfter.cpuUs - peerBefore.cpuUs,
    io: COUNT_IO
      ? {
        reads: ioAfter.reads - ioBefore.reads,
        writes: ioAfter.writes - ioBefore.writes,
        peerReads: peerAfter.reads - peerBefore.reads,
        peerWrites: peerAfter.writes - peerBefore.writes,
      }
      : undefined,
  };
}

/** The samples of a round's slices as one. */
function sumSamples(slices: Sample[]): Sample {
  const sum = (value: (s: Sample) => number | undefined) =>
    slices.reduce((total, s) => total + (value(s) ?? 0), 0);
  return {
    ops: sum((s) => s.ops),
    ms: sum((s) => s.ms),
    cpuUs: sum((s) => s.cpuUs),
    peerCpuUs: sum((s) => s.peerCpuUs),
    io: COUNT_IO
      ? {
        reads: sum((s) => s.io?.reads),
        writes: sum((s) => s.io?.writes),
        peerReads: sum((s) => s.io?.peerReads),
        peerWrites: sum((s) => s.io?.peerWrites),
      }
      : undefined,
  };
}

/**
 * How many calls each worker of a pipelined scenario makes between two
 * looks at the clock: the raw baseline reads it once per 16 frames too.
 */
const CLOCK_EVERY = 16;

/** Runs `workers` loops of `call` until `ms` passed; each checks the time every `batch` calls. */
async function closedLoop(
  ms: number,
  workers: number,
  call: () => Promise<unknown>,
  batch = 1,
): Promise<Sample> {
  const start = performance.now();
  const deadline = start + ms;
  let ops = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      for (let i = 0; i < batch; i++) await call();
      ops += batch;
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  return { ops, ms: performance.now() - start };
}

/** `count` raw frames of RAW_FRAME bytes (4-byte length + payload). */
function rawFrames(count: number): Uint8Array {
  const bytes = new Uint8Array(count * RAW_FRAME).fill(0x78);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < count; i++) {
    view.setUint32(i * RAW_FRAME, RAW_FRAME - 4);
  }
  return bytes;
}

/** Serial ping-pong: write one frame, read its echo, repeat. */
async function rawSerial(conn: Deno.Conn, ms: number): Promise<Sample> {
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
 * `inflight` requesters, each writing its own frame (one `write` per
 * request) and waiting for its echo: raw sockets used the way a library
 * without batching would use them. Reported, not a baseline of a target.
 */
async function rawEach(
  conn: Deno.Conn,
  ms: number,
  inflight: number,
): Promise<Sample> {
  const frame = rawFrames(1);
  const buffer = new Uint8Array(64 * 1024);
  let waiters: (() => void)[] = [];
  let head = 0;
  let outstanding = 0;
  let pendingBytes = 0;
  let ops = 0;
  // Only the reader looks at the clock: had the workers looked too, they
  // could stop after the reader had decided to read once more, for an
  // answer that never comes.
  let late = false;
  const start = performance.now();
  const deadline = start + ms;
  const worker = async () => {
    while (!late) {
      const reply = new Promise<void>((resolve) => waiters.push(resolve));
      outstanding++;
      await writeAll(conn, frame);
      await reply;
      ops++;
    }
  };
  const workers = Promise.all(Array.from({ length: inflight }, worker));
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("the raw peer closed the connection");
    pendingBytes += n;
    if (performance.now() >= deadline) late = true;
    for (; pendingBytes >= RAW_FRAME; pendingBytes -= RAW_FRAME) {
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

/**
 * `inflight` frames outstanding: every read that completes k echoes is
 * answered by one write of k new frames (as the channel coalesces the
 * frames of one tick into one write).
 */
async function rawPipelined(
  conn: Deno.Conn,
  ms: number,
  inflight: number,
): Promise<Sample> {
  const frames = rawFrames(inflight);
  const buffer = new Uint8Array(64 * 1024);
  const start = performance.now();
  const deadline = start + ms;
  await writeAll(conn, frames);
  let outstanding = inflight;
  let pendingBytes = 0;
  let ops = 0;
  while (outstanding > 0) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("the raw peer closed the connection");
    pendingBytes += n;
    const done = Math.floor(pendingBytes / RAW_FRAME);
    pendingBytes -= done * RAW_FRAME;
    ops += done;
    outstanding -= done;
    if (done > 0 && performance.now() < deadline) {
      await writeAll(conn, frames.subarray(0, done * RAW_FRAME));
      outstanding += done;
    }
  }
  return { ops, ms: performance.now() - start };
}

// ---------------------------------------------------------------- scenarios

interface Scenario {
  id: string;
  /** Measures once for about `ms` milliseconds. */
  run(ms: number): Promise<Sample>;
  /** The raw scenario measured right before this one in each round. */
  baseline?: "rawSerial" | "rawPipe";
}

/** Where the raw run paired with scenario `id` is kept in the samples. */
function pairedId(id: string): string {
  return `${id}@raw`;
}

interface Setup {
  scenarios: Scenario[];
  close(): Promise<void>;
}

async function setUp(peer: PeerInfo): Promise<Setup> {
  const closers: (() => Promise<void> | void)[] = [];

  const serialConn = await Deno.connect({ hostname: HOST, port: peer.raw });
  serialConn.setNoDelay(true);
  const pipeConn = await Deno.connect({ hostname: HOST, port: peer.raw });
  pipeConn.setNoDelay(true);
  closers.push(() => serialConn.close(), () => pipeConn.close());
  const minimal = async (port: number, codec: CodecClass) => {
    const conn = await Deno.connect({ hostname: HOST, port });
    conn.setNoDelay(true);
    closers.push(() => conn.close());
    return minimalClient(conn, new codec());
  };
  const minimalSerial = await minimal(peer.minimalJson, JsonCodec);
  const minimalPipe = await minimal(peer.minimalMsgpack, MsgPackCodec);

  const channel = async (port: number, codec: CodecClass) => {
    const ch: Channel = await openConnection({ hostname: HOST, port }, {
      codec,
    });
    closers.push(() => ch.close());
    return ch;
  };
  const jsonSerial = await channel(peer.channelJson, JsonCodec);
  const msgpackSerial = await channel(peer.channelMsgpack, MsgPackCodec);
  const msgpackPipe = await channel(peer.channelMsgpackEach, MsgPackCodec);
  const msgpackPipeForAwait = await channel(
    peer.channelMsgpack,
    MsgPackCodec,
  );

  const rpcClient = await rpc.openConnection<MathService>(
    { hostname: HOST, port: peer.rpcMsgpack },
    { codec: MsgPackCodec },
  );
  closers.push(() => rpcClient.close());

  // The calling side of the agent scenarios: a container with one agent
  // that calls `add` of the peer's agent, and of a local one.
  const container = await Container.create({ hostname: HOST, port: 0 }, {
    codec: MsgPackCodec,
  });
  closers.push(() => container.shutdown());
  class Caller extends Agent {
    async calls(
      target: AgentProxy<Calc>,
      ms: number,
      workers: number,
      batch: number,
    ): Promise<Sample> {
      return await closedLoop(ms, workers, () => target.add(3, 4), batch);
    }
  }
  const caller = new Caller(container);
  const remoteCalc = await container.connect<Calc>(peer.agent);
  const localCalc = await container.connect<Calc>(new Calc(container).addr);
  if (await remoteCalc.add(3, 4) !== 7 || await localCalc.add(3, 4) !== 7) {
    throw new Error("add(3, 4) is not 7");
  }

  const scenarios: Scenario[] = [
    { id: "rawSerial", run: (ms) => rawSerial(serialConn, ms) },
    {
      id: "channelSerialJson",
      baseline: "rawSerial",
      run: (ms) => closedLoop(ms, 1, () => jsonSerial.send(PAYLOAD_48)),
    },
    {
      id: "channelSerialMsgpack",
      baseline: "rawSerial",
      run: (ms) => closedLoop(ms, 1, () => msgpackSerial.send(PAYLOAD_48)),
    },
    {
      id: "minimalSerialJson",
      baseline: "rawSerial",
      run: (ms) => closedLoop(ms, 1, () => minimalSerial.send(PAYLOAD_48)),
    },
    { id: "rawPipe", run: (ms) => rawPipelined(pipeConn, ms, INFLIGHT) },
    { id: "rawEach", run: (ms) => rawEach(pipeConn, ms, INFLIGHT) },
    {
      id: "channelPipe",
      baseline: "rawPipe",
      run: (ms) =>
        closedLoop(
          ms,
          INFLIGHT,
          () => msgpackPipe.send(PAYLOAD_48),
          CLOCK_EVERY,
        ),
    },
    {
      id: "channelPipeForAwait",
      baseline: "rawPipe",
      run: (ms) =>
        closedLoop(
          ms,
          INFLIGHT,
          () => msgpackPipeForAwait.send(PAYLOAD_48),
          CLOCK_EVERY,
        ),
    },
    {
      id: "minimalPipe",
      baseline: "rawPipe",
      run: (ms) =>
        closedLoop(
          ms,
          INFLIGHT,
          () => minimalPipe.send(PAYLOAD_48),
          CLOCK_EVERY,
        ),
    },
    {
      id: "rpcPipe",
      baseline: "rawPipe",
      run: (ms) =>
        closedLoop(ms, INFLIGHT, () => rpcClient.remote.add(3, 4), CLOCK_EVERY),
    },
    {
      id: "agentRemotePipe",
      baseline: "rawPipe",
      run: (ms) => caller.calls(remoteCalc, ms, INFLIGHT, CLOCK_EVERY),
    },
    {
      id: "agentLocalSerial",
      run: (ms) => caller.calls(localCalc, ms, 1, 1000),
    },
    {
      id: "agentLocalPipe",
      run: (ms) => caller.calls(localCalc, ms, INFLIGHT, 100),
    },
  ];
  return {
    scenarios,
    async close() {
      for (const close of closers.reverse()) await close();
    },
  };
}

const FAN_IN = 10_000;

/**
 * Times FAN_IN agents of a fresh container each connecting to the peer's
 * agent and calling it once, all at once (the connection is shared).
 */
async function fanInAgents(peer: PeerInfo): Promise<number[]> {
  class OneShot extends Agent {
    async once(addr: string): Promise<number> {
      const calc = await this.container.connect<Calc>(addr);
      return await calc.add(3, 4);
    }
  }
  const times: number[] = [];
  for (let round = 0; round < 3; round++) {
    const container = await Container.create({ hostname: HOST, port: 0 }, {
      codec: MsgPackCodec,
    });
    try {
      const agents = Array.from(
        { length: FAN_IN },
        () => new OneShot(container),
      );
      const start = performance.now();
      const results = await Promise.all(
        agents.map((agent) => agent.once(peer.agent)),
      );
      times.push(performance.now() - start);
      if (results.some((result) => result !== 7)) {
        throw new Error("add(3, 4) is not 7");
      }
    } finally {
      await container.shutdown();
    }
  }
  return times;
}

// ---------------------------------------------------------------- results

interface Row {
  scenario: string;
  note: string;
  unit: string;
  result: number;
  baseline: number | null;
  ratio: number | null;
  /** Per round: the result over the raw run right before it. */
  ratioRounds?: number[];
  target: string;
  /** ≥ 1 means the target is met; the SVG bar length. */
  score: number | null;
  pass: boolean | null;
  rounds: number[];
  /** Median CPU time per operation, µs: this process and the peer. */
  cpuUsPerOp?: { client: number; peer: number };
  /** Median socket writes and reads per operation (`--count-io`). */
  ioPerOp?: {
    writes: number;
    reads: number;
    peerWrites: number;
    peerReads: number;
  };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Operations per second of one sample. */
const rateOf = (s: Sample): number => s.ops / s.ms * 1000;
/** Microseconds per operation (round trip) of one sample. */
const rttOf = (s: Sample): number => s.ms * 1000 / s.ops;
/** The median over samples of `value` per operation (CPU time, I/O calls). */
const perOp = (
  list: Sample[],
  value: (s: Sample) => number | undefined,
): number => median(list.map((s) => (value(s) ?? NaN) / s.ops));

function buildRows(
  samples: Map<string, Sample[]>,
  agents: AgentsResult,
): Row[] {
  const rate = (id: string) => samples.get(id)!.map(rateOf);
  const rtt = (id: string) => samples.get(id)!.map(rttOf);
  const cpu = (id: string) => ({
    client: perOp(samples.get(id)!, (s) => s.cpuUs),
    peer: perOp(samples.get(id)!, (s) => s.peerCpuUs),
  });
  const io = (id: string) =>
    COUNT_IO
      ? {
        writes: perOp(samples.get(id)!, (s) => s.io?.writes),
        reads: perOp(samples.get(id)!, (s) => s.io?.reads),
        peerWrites: perOp(samples.get(id)!, (s) => s.io?.peerWrites),
        peerReads: perOp(samples.get(id)!, (s) => s.io?.peerReads),
      }
      : undefined;
  const rows: Row[] = [];
  const rawRtt = rtt("rawSerial");
  const rawRate = rate("rawPipe");
  rows.push({
    scenario: "raw Deno.Conn ping-pong, serial",
    note: "64-byte frames, conn.read/conn.write",
    unit: "µs/round trip",
    result: median(rawRtt),
    baseline: null,
    ratio: null,
    target: "baseline",
    score: null,
    pass: null,
    rounds: rawRtt,
    cpuUsPerOp: cpu("rawSerial"),
    ioPerOp: io("rawSerial"),
  });
  rows.push({
    scenario: `raw Deno.Conn, ${INFLIGHT} in flight`,
    note: "64-byte frames, one write per read",
    unit: "msgs/s",
    result: median(rawRate),
    baseline: null,
    ratio: null,
    target: "baseline",
    score: null,
    pass: null,
    rounds: rawRate,
    cpuUsPerOp: cpu("rawPipe"),
    ioPerOp: io("rawPipe"),
  });
  const eachRate = rate("rawEach");
  rows.push({
    scenario: `raw Deno.Conn, ${INFLIGHT} in flight, a write per request`,
    note: "64-byte frames; each requester writes its own (not a baseline)",
    unit: "msgs/s",
    result: median(eachRate),
    baseline: median(rawRate),
    ratio: median(eachRate) / median(rawRate),
    target: "report",
    score: null,
    pass: null,
    rounds: eachRate,
    cpuUsPerOp: cpu("rawEach"),
    ioPerOp: io("rawEach"),
  });
  // The ratio of a scenario to the raw run right before it, per round.
  const paired = (id: string, value: (s: Sample) => number) => {
    const own = samples.get(id)!;
    const raws = samples.get(pairedId(id))!;
    const ratios = own.map((s, i) => value(s) / value(raws[i]));
    return {
      ratio: median(ratios),
      ratioRounds: ratios,
      baseline: median(raws.map(value)),
    };
  };
  const latency = (id: string, scenario: string, note: string, max: number) => {
    const values = rtt(id);
    const { ratio, ratioRounds, baseline } = paired(id, rttOf);
    rows.push({
      scenario,
      note,
      unit: "µs/round trip",
      result: median(values),
      baseline,
      ratio,
      ratioRounds,
      target: `≤ ${max.toFixed(2)} × raw`,
      score: max / ratio,
      pass: ratio <= max,
      rounds: values,
      cpuUsPerOp: cpu(id),
      ioPerOp: io(id),
    });
  };
  const throughput = (
    id: string,
    scenario: string,
    note: string,
    min: number,
  ) => {
    const values = rate(id);
    const { ratio, ratioRounds, baseline } = paired(id, rateOf);
    rows.push({
      scenario,
      note,
      unit: "msgs/s",
      result: median(values),
      baseline,
      ratio,
      ratioRounds,
      target: `≥ ${min.toFixed(2)} × raw`,
      score: ratio / min,
      pass: ratio >= min,
      rounds: values,
      cpuUsPerOp: cpu(id),
      ioPerOp: io(id),
    });
  };
  const absolute = (id: string, scenario: string, note: string) => {
    const values = rate(id);
    rows.push({
      scenario,
      note,
      unit: "calls/s",
      result: median(values),
      baseline: null,
      ratio: null,
      target: "≥ 1 M calls/s",
      score: median(values) / 1e6,
      pass: median(values) >= 1e6,
      rounds: values,
      cpuUsPerOp: cpu(id),
      ioPerOp: io(id),
    });
  };
  /** A row with a paired ratio and no target (for comparison). */
  const reported = (id: string, scenario: string, note: string) => {
    const serial = id.includes("Serial");
    const values = serial ? rtt(id) : rate(id);
    rows.push({
      scenario,
      note,
      unit: serial ? "µs/round trip" : "msgs/s",
      result: median(values),
      ...paired(id, serial ? rttOf : rateOf),
      target: "report",
      score: null,
      pass: null,
      rounds: values,
      cpuUsPerOp: cpu(id),
      ioPerOp: io(id),
    });
  };
  latency(
    "channelSerialJson",
    "channel request/reply, serial, JSON",
    "48-char string, echoed; frame 62 B",
    1.1,
  );
  latency(
    "channelSerialMsgpack",
    "channel request/reply, serial, MsgPack (extra)",
    "48-char string, echoed; frame 58 B",
    1.1,
  );
  reported(
    "minimalSerialJson",
    "hand-written JS request/reply, serial, JSON",
    "bench/_minimal.ts on both sides: a promise per call, same codec, no library",
  );
  throughput(
    "channelPipe",
    `channel request/reply, ${INFLIGHT} in flight, MsgPack`,
    "48-char string, echoed by a tryRecv() loop",
    0.75,
  );
  reported(
    "channelPipeForAwait",
    `channel, ${INFLIGHT} in flight, server loop with for await`,
    "the same, echoed by for await + await reply (not a target row)",
  );
  reported(
    "minimalPipe",
    `hand-written JS request/reply, ${INFLIGHT} in flight, MsgPack`,
    "bench/_minimal.ts on both sides: a promise per call, same codec, no library",
  );
  throughput(
    "rpcPipe",
    `RPC add(3, 4), ${INFLIGHT} in flight, MsgPack`,
    "client.remote.add",
    0.65,
  );
  throughput(
    "agentRemotePipe",
    `agent → agent, other container, ${INFLIGHT} in flight`,
    "MsgPack; peer process hosts the callee",
    0.6,
  );
  absolute(
    "agentLocalSerial",
    "agent → agent, same container, serial",
    "await proxy.add(3, 4) in a loop",
  );
  absolute(
    "agentLocalPipe",
    `agent → agent, same container, ${INFLIGHT} in flight`,
    `${INFLIGHT} loops of await proxy.add(3, 4)`,
  );
  const createMs = median(agents.createMs);
  rows.push({
    scenario: `${agents.agents / 1000} k agents in one container: creation`,
    note: "median of 3, warm",
    unit: "ms",
    result: createMs,
    baseline: null,
    ratio: null,
    target: "< 1 s",
    score: 1000 / createMs,
    pass: createMs < 1000,
    rounds: agents.createMs,
  });
  const heap = median(agents.heapBytesPerAgent);
  rows.push({
    scenario: `${agents.agents / 1000} k agents in one container: heap`,
    note: agents.gc ? "heapUsed after GC (--expose-gc)" : "heapUsed, no GC!",
    unit: "B/agent",
    result: heap,
    baseline: null,
    ratio: null,
    target: "< 1 KiB/agent",
    score: 1024 / heap,
    pass: heap < 1024,
    rounds: agents.heapBytesPerAgent,
  });
  return rows;
}

function formatNumber(value: number, unit: string): string {
  if (unit === "msgs/s" || unit === "calls/s") {
    return value >= 1e6
      ? `${(value / 1e6).toFixed(2)} M/s`
      : `${(value / 1e3).toFixed(1)} k/s`;
  }
  if (unit === "µs/round trip") return `${value.toFixed(1)} µs`;
  if (unit === "ms") return `${value.toFixed(0)} ms`;
  if (unit === "B/agent") return `${value.toFixed(0)} B/agent`;
  return `${value}`;
}

function printTable(rows: Row[]): void {
  const header = [
    "scenario",
    "result",
    "raw baseline",
    "ratio",
    "target",
    "",
    "CPU µs/op here+peer",
    ...(COUNT_IO ? ["writes/op here+peer", "reads/op here+peer"] : []),
  ];
  const body = rows.map((row) => [
    row.scenario,
    formatNumber(row.result, row.unit),
    row.baseline === null ? "" : formatNumber(row.baseline, row.unit),
    row.ratio === null ? "" : `${row.ratio.toFixed(2)} ×`,
    row.target,
    row.pass === null ? "" : row.pass ? "pass" : "MISS",
    row.cpuUsPerOp === undefined
      ? ""
      : `${row.cpuUsPerOp.client.toFixed(2)} + ${
        row.cpuUsPerOp.peer.toFixed(2)
      }`,
    ...(COUNT_IO
      ? [
        row.ioPerOp === undefined
          ? ""
          : `${row.ioPerOp.writes.toFixed(2)} + ${
            row.ioPerOp.peerWrites.toFixed(2)
          }`,
        row.ioPerOp === undefined
          ? ""
          : `${row.ioPerOp.reads.toFixed(2)} + ${
            row.ioPerOp.peerReads.toFixed(2)
          }`,
      ]
      : []),
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...body.map((cells) => cells[i].length))
  );
  const line = (cells: string[]) =>
    "| " + cells.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  console.log(line(header));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const cells of body) console.log(line(cells));
}

const escapeXml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A bar per scenario with a target: its score (1 = exactly the target). */
function svgChart(rows: Row[], title: string): string {
  const scored = rows.filter((row) => row.score !== null);
  const labelWidth = 380;
  const barArea = 420;
  const maxScore = 2;
  const rowHeight = 30;
  const top = 50;
  const width = labelWidth + barArea + 380;
  const height = top + scored.length * rowHeight + 40;
  const x1 = labelWidth + barArea / maxScore;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${
      escapeXml(title)
    }</text>`,
    `<text x="10" y="40" fill="#555">bar = result relative to its target (the line at 1.0); longer is better, capped at ${maxScore}</text>`,
  ];
  parts.push(
    `<line x1="${x1}" y1="${top - 2}" x2="${x1}" y2="${
      top + scored.length * rowHeight + 2
    }" stroke="#000" stroke-opacity="0.45" stroke-dasharray="4 3"/>`,
    `<text x="${x1}" y="${
      top + scored.length * rowHeight + 18
    }" text-anchor="middle">target</text>`,
  );
  scored.forEach((row, i) => {
    const y = top + i * rowHeight;
    const score = row.score!;
    const length = Math.max(1, Math.min(score, maxScore) / maxScore * barArea);
    const color = row.pass ? "#3a9a4a" : "#c8413b";
    const detail = (row.ratio === null
      ? `${formatNumber(row.result, row.unit)} (${row.target})`
      : `${row.ratio.toFixed(2)} × raw (${row.target.replace(" × raw", "")})`) +
      ` = ${score.toFixed(2)} of target`;
    parts.push(
      `<text x="${labelWidth - 8}" y="${y + 19}" text-anchor="end">${
        escapeXml(row.scenario)
      }</text>`,
      `<rect x="${labelWidth}" y="${y + 5}" width="${
        length.toFixed(1)
      }" height="${rowHeight - 10}" fill="${color}"/>`,
      `<text x="${(labelWidth + length + 6).toFixed(1)}" y="${
        y + 19
      }" fill="#333">${escapeXml(detail)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

// ---------------------------------------------------------------- main

async function profileOne(id: string): Promise<void> {
  const dir = new URL("profiles/", resultsDir);
  await Deno.mkdir(dir, { recursive: true });
  const peerPath = new URL(`${id}.peer.cpuprofile`, dir).pathname;
  const peer = await startPeer(peerPath);
  let setup: Setup | undefined;
  try {
    setup = await setUp(peer.info);
    const scenario = setup.scenarios.find((s) => s.id === id);
    if (scenario === undefined) {
      throw new TypeError(
        `--profile: unknown scenario "${id}"; one of ${
          setup.scenarios.map((s) => s.id).join(", ")
        }`,
      );
    }
    await scenario.run(WARMUP_MS * 2);
    const profiler: Profiler = await startProfiler();
    const sample = await scenario.run(PROFILE_MS);
    const profile = await profiler.stop();
    await Deno.writeTextFile(
      new URL(`${id}.client.cpuprofile`, dir),
      JSON.stringify(profile),
    );
    console.log(
      `${id}: ${
        (sample.ops / sample.ms * 1000).toFixed(0)
      } ops/s while profiled`,
    );
    console.log(`client profile:\n${summarize(profile)}\n`);
  } finally {
    await setup?.close();
    await peer.stop();
  }
}

/** The scenarios named by --only, after the raw baselines. */
function selectScenarios(all: Scenario[], ids: string[]): Scenario[] {
  for (const id of ids) {
    if (!all.some((s) => s.id === id)) {
      throw new TypeError(
        `--only: unknown scenario "${id}"; one of ${
          all.map((s) => s.id).join(", ")
        }`,
      );
    }
  }
  return all.filter((s) =>
    s.id === "rawSerial" || s.id === "rawPipe" || ids.includes(s.id)
  );
}

/** For --only: each scenario's median, its ratio to raw, and its CPU time per op. */
function printShort(samples: Map<string, Sample[]>): void {
  const rate = (id: string) => median(samples.get(id)!.map(rateOf));
  const rtt = (id: string) => median(samples.get(id)!.map(rttOf));
  for (const [id, list] of samples) {
    if (id.endsWith("@raw")) continue;
    const serial = id.includes("Serial");
    const value = serial ? rtt(id) : rate(id);
    const rawId = samples.has(pairedId(id))
      ? pairedId(id)
      : serial
      ? "rawSerial"
      : "rawPipe";
    // Paired: the median of the per-round ratios, as in the full table.
    const raws = samples.get(rawId)!;
    const of = serial ? rttOf : rateOf;
    const ratios = rawId === pairedId(id)
      ? list.map((s, i) => of(s) / of(raws[i]))
      : [value / (serial ? rtt(rawId) : rate(rawId))];
    const cpu = (pick: (s: Sample) => number | undefined) =>
      perOp(list, pick).toFixed(2);
    const io = COUNT_IO
      ? `  writes/reads per op ${cpu((s) => s.io?.writes)}/${
        cpu((s) => s.io?.reads)
      } + ${cpu((s) => s.io?.peerWrites)}/${cpu((s) => s.io?.peerReads)}`
      : "";
    console.log(
      `${id.padEnd(22)} ${
        serial ? `${value.toFixed(1)} µs` : `${(value / 1000).toFixed(1)} k/s`
      }  ratio ${median(ratios).toFixed(3)} (${
        ratios.map((r) => r.toFixed(2)).join(" ")
      })  CPU µs/op ${cpu((s) => s.cpuUs)} + ${cpu((s) => s.peerCpuUs)}${io}`,
    );
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  if (COUNT_IO) await installIoCounter();
  console.log(
    `e2e: ${ROUNDS} rounds × ${ROUND_MS} ms per scenario (in ${SLICE_MS} ms slices beside raw) after ${WARMUP_MS} ms warm-up, ` +
      `${INFLIGHT} in flight; Deno ${Deno.version.deno}, V8 ${Deno.version.v8}, ` +
      `${navigator.hardwareConcurrency} cores`,
  );
  const loadBefore = Deno.loadavg();
  if (loadBefore[0] > 0.5) {
    console.log(
      `warning: load average ${
        loadBefore[0].toFixed(2)
      } before the run: other processes compete for the ${navigator.hardwareConcurrency} cores and the results will be noisy`,
    );
  }
  const peer = await startPeer();
  const samples = new Map<string, Sample[]>();
  let setup: Setup | undefined;
  try {
    setup = await setUp(peer.info);
    const scenarios = ONLY === undefined
      ? setup.scenarios
      : selectScenarios(setup.scenarios, ONLY);
    for (const scenario of scenarios) await scenario.run(WARMUP_MS);
    const byId = new Map(setup.scenarios.map((s) => [s.id, s]));
    const record = (id: string, sample: Sample) => {
      if (!samples.has(id)) samples.set(id, []);
      samples.get(id)!.push(sample);
    };
    for (let round = 0; round < ROUNDS; round++) {
      for (const scenario of scenarios) {
        if (scenario.baseline === undefined) {
          record(scenario.id, await measure(scenario, peer, ROUND_MS));
          continue;
        }
        const raw = byId.get(scenario.baseline)!;
        const raws: Sample[] = [];
        const owns: Sample[] = [];
        for (let ms = 0; ms < ROUND_MS; ms += SLICE_MS) {
          raws.push(await measure(raw, peer, SLICE_MS));
          owns.push(await measure(scenario, peer, SLICE_MS));
        }
        record(pairedId(scenario.id), sumSamples(raws));
        record(scenario.id, sumSamples(owns));
      }
      console.log(`round ${round + 1}/${ROUNDS} done`);
    }
  } finally {
    await setup?.close();
    if (ONLY !== undefined) await peer.stop();
  }
  if (ONLY !== undefined) return printShort(samples);
  let fanIn: number[];
  try {
    console.log(`${FAN_IN} agents each calling an agent of the peer once…`);
    fanIn = await fanInAgents(peer.info);
  } finally {
    await peer.stop();
  }
  console.log(`creating ${AGENTS} agents in a child process…`);
  const agents = await runAgentsChild();
  const rows = buildRows(samples, agents);
  const fanInMs = median(fanIn);
  rows.push({
    scenario: `${FAN_IN / 1000} k agents in A each call an agent in B once`,
    note:
      "A here, B in the peer process; fresh container, connect + call, median of 3",
    unit: "ms",
    result: fanInMs,
    baseline: null,
    ratio: null,
    target: "report",
    score: null,
    pass: null,
    rounds: fanIn,
  });
  console.log("");
  printTable(rows);
  const misses = rows.filter((row) => row.pass === false);
  console.log(
    `\n${
      misses.length === 0 ? "all targets met" : `${misses.length} missed`
    }; ` +
      `${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  await Deno.mkdir(resultsDir, { recursive: true });
  const report = {
    date: new Date().toISOString(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    os: Deno.build.os,
    arch: Deno.build.arch,
    cores: navigator.hardwareConcurrency,
    loadAverageBefore: loadBefore,
    loadAverageAfter: Deno.loadavg(),
    config: {
      rounds: ROUNDS,
      roundMs: ROUND_MS,
      sliceMs: SLICE_MS,
      warmupMs: WARMUP_MS,
      inflight: INFLIGHT,
      agents: AGENTS,
      rawFrameBytes: RAW_FRAME,
    },
    rows,
  };
  await Deno.writeTextFile(
    new URL("latest.json", resultsDir),
    JSON.stringify(report, null, 2) + "\n",
  );
  await Deno.writeTextFile(
    new URL("latest.svg", resultsDir),
    svgChart(
      rows,
      `aiomas for Deno, e2e benchmarks (${
        report.date.slice(0, 10)
      }, Deno ${Deno.version.deno}, ${report.cores} cores)`,
    ),
  );
  console.log("wrote bench/results/latest.json and bench/results/latest.svg");
}

if (import.meta.main) {
  const watchdog = setTimeout(() => {
    console.error(
      `e2e: still running after ${WATCHDOG_MS / 1000} s; giving up`,
    );
    Deno.exit(1);
  }, WATCHDOG_MS);
  Deno.unrefTimer(watchdog);
  if (option("agents-child") !== undefined) await agentsChild();
  else if (PROFILE !== undefined) await profileOne(PROFILE);
  else await main();
  clearTimeout(watchdog);
}
