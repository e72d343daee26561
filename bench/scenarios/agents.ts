// Agents: calls from an agent of this process to an agent of the peer
// process (16 in flight, paired with raw frames 16 in flight; judged by the
// runner against the hand-written pair measured beside it, in this family:
// the small family's ran minutes before), calls within one container
// (target ≥ 1 M calls/s), 100 k agents in one container (a child process,
// heap after GC), and 10 k agents each calling the peer's agent once.
import { Agent, type AgentProxy, Container, MsgPackCodec } from "../../mod.ts";
import { Calc } from "../_agents.ts";
import { runAgentsChild } from "../_agents_child.ts";
import {
  type Context,
  openSetup,
  type PairedFamily,
  pairedFamily,
  type Setup,
  wanted,
} from "../_family.ts";
import {
  CLOCK_EVERY,
  closedLoop,
  rateOf,
  type Sample,
  type Scenario,
} from "../_measure.ts";
import type { Peer } from "../_peer_process.ts";
import { PAYLOAD_48 } from "../_messages.ts";
import { minimalClient } from "../_minimal.ts";
import { connectRaw, rawPipelined } from "../_raw.ts";
import { judge, plainRow, type Row, rowOf, type RowSpec } from "../_report.ts";

const HOST = "127.0.0.1";
const FAN_IN = 10_000;

/** The scenarios measured in rounds, beside a partner or alone. */
const PAIRED_IDS = [
  "agentRemotePipe",
  "agentMinimalPipe",
  "agentLocalSerial",
  "agentLocalPipe",
] as const;

/** The scenario ids of this family. */
export const AGENT_IDS = [
  ...PAIRED_IDS,
  "agents100k",
  "agentsFanIn10k",
] as const;

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

function open(context: Context, peer: Peer): Promise<Setup> {
  return openSetup(async (closers) => {
    const inflight = context.inflight;
    const pipeConn = await connectRaw(HOST, peer.info.raw);
    closers.push(() => pipeConn.close());
    const minimalConn = await connectRaw(HOST, peer.info.minimalMsgpack);
    closers.push(() => minimalConn.close());
    const minimal = minimalClient(minimalConn, new MsgPackCodec());
    const container = await Container.create({ hostname: HOST, port: 0 }, {
      codec: MsgPackCodec,
    });
    closers.push(() => container.shutdown());
    const caller = new Caller(container);
    const remote = await container.connect<Calc>(peer.info.agent);
    const local = await container.connect<Calc>(new Calc(container).addr);
    if (await remote.add(3, 4) !== 7 || await local.add(3, 4) !== 7) {
      throw new Error("add(3, 4) is not 7");
    }
    const rawPipe: Scenario = {
      id: "rawPipe",
      run: (ms) => rawPipelined(pipeConn, ms, inflight),
    };
    const scenarios: Scenario[] = [
      {
        id: "agentRemotePipe",
        partner: rawPipe,
        run: (ms) => caller.calls(remote, ms, inflight, CLOCK_EVERY),
      },
      {
        id: "agentMinimalPipe",
        partner: rawPipe,
        run: (ms) =>
          closedLoop(ms, inflight, () => minimal.send(PAYLOAD_48), CLOCK_EVERY),
      },
      {
        id: "agentLocalSerial",
        run: (ms) => caller.calls(local, ms, 1, 1000),
      },
      {
        id: "agentLocalPipe",
        run: (ms) => caller.calls(local, ms, inflight, 100),
      },
    ];
    return {
      scenarios,
      rows: (samples: Map<string, Sample[]>) => rows(samples, context),
    };
  });
}

function rows(samples: Map<string, Sample[]>, context: Context): Row[] {
  const n = context.inflight;
  const spec = (id: string, scenario: string, note: string): RowSpec => ({
    family: "agents",
    id,
    scenario,
    note,
    unit: "calls/s",
    value: rateOf,
  });
  const out: Row[] = [];
  const add = (s: RowSpec, local: boolean) => {
    if (!samples.has(s.id)) return;
    const row = rowOf(samples, s, context.options["count-io"]);
    out.push(
      local ? judge(row, "≥ 1 M calls/s", row.result / 1e6, { min: 1 }) : row,
    );
  };
  add(
    spec(
      "agentRemotePipe",
      `agent → agent, other container, ${n} in flight`,
      "MsgPack; the peer process hosts the callee",
    ),
    false,
  );
  add(
    spec(
      "agentMinimalPipe",
      `hand-written JS request/reply, ${n} in flight, MsgPack`,
      "bench/_minimal.ts on both sides, measured beside the agent rows (what agentRemotePipe is judged against)",
    ),
    false,
  );
  add(
    spec(
      "agentLocalSerial",
      "agent → agent, same container, serial",
      "await proxy.add(3, 4) in a loop (measured: M calls/s)",
    ),
    true,
  );
  add(
    spec(
      "agentLocalPipe",
      `agent → agent, same container, ${n} in flight`,
      `${n} loops of await proxy.add(3, 4) (measured: M calls/s)`,
    ),
    true,
  );
  return out;
}

/** 10 k agents of a fresh container each connect to the peer's agent and call it once. */
async function fanInAgents(peer: Peer, rounds: number): Promise<number[]> {
  class OneShot extends Agent {
    async once(addr: string): Promise<number> {
      const calc = await this.container.connect<Calc>(addr);
      return await calc.add(3, 4);
    }
  }
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
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
        agents.map((agent) => agent.once(peer.info.agent)),
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

const paired = pairedFamily("agents", AGENT_IDS, open);

/** The agents family. */
export const agents: PairedFamily = {
  ...paired,
  async run(context) {
    const rows = PAIRED_IDS.some((id) => wanted(context, id))
      ? await paired.run(context)
      : [];
    if (wanted(context, "agentsFanIn10k")) {
      context.log(`  ${FAN_IN} agents each calling an agent of the peer once…`);
      const times = await fanInAgents(await context.peer(), 3);
      rows.push(
        plainRow(
          "agents",
          "agentsFanIn10k",
          `${FAN_IN / 1000} k agents in A each call an agent in B once`,
          "A here, B in the peer process; fresh container, connect + call, median of 3",
          "ms",
          times,
        ),
      );
    }
    if (wanted(context, "agents100k")) {
      const count = context.options.agents ?? 100_000;
      context.log(`  creating ${count} agents in a child process…`);
      const result = await runAgentsChild(count);
      const k = `${count / 1000} k agents in one container`;
      const create = plainRow(
        "agents",
        "agents100k",
        `${k}: creation`,
        "median of 3, warm",
        "ms",
        result.createMs,
      );
      const heap = plainRow(
        "agents",
        "agents100kHeap",
        `${k}: heap`,
        result.gc ? "heapUsed after GC (--expose-gc)" : "heapUsed, no GC!",
        "B/agent",
        result.heapBytesPerAgent,
      );
      rows.push(
        judge(create, "< 1 s", create.result, { max: 1000 }),
        judge(heap, "< 1 KiB/agent", heap.result, { max: 1024 }),
      );
    }
    return rows;
  },
};
