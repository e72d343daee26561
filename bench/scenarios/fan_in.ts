// Fan-in: one client process with 100 (and 10) RPC connections to one
// server, each with 16 calls of `add(3, 4)` in flight, paired with as many
// raw Deno.Conn connections each keeping 16 small frames in flight.
// Targets (issue 16): 100 connections ≥ 0.6 × raw, and at least the
// calls/s of 10 connections.
import { MsgPackCodec, rpc, type RpcClient } from "../../mod.ts";
import type { MathService } from "../_agents.ts";
import {
  closeAll,
  type Context,
  type PairedFamily,
  pairedFamily,
  wanted,
} from "../_family.ts";
import {
  median,
  rateOf,
  type Sample,
  type Scenario,
  sharedClockLoop,
} from "../_measure.ts";
import type { Peer } from "../_peer_process.ts";
import { connectRaw, rawPipelinedAll } from "../_raw.ts";
import { judge, type Row, rowOf } from "../_report.ts";

const HOST = "127.0.0.1";

/** The scenario ids of this family (with the default connection counts). */
export const FAN_IN_IDS = ["fanIn100", "fanIn10"] as const;

/**
 * The connection counts to measure: `--fanin-connections` (e.g.
 * `10,20,50,100,200` to see where the cost per call starts to grow), or
 * 100 and 10.
 */
function counts(context: Context): number[] {
  const option = context.options["fanin-connections"];
  if (option === undefined) return [100, 10];
  const list = option.split(",").map(Number);
  if (list.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new TypeError(
      `--fanin-connections must be positive integers, got ${option}`,
    );
  }
  return list;
}

async function open(context: Context, peer: Peer) {
  const closers: (() => Promise<void> | void)[] = [];
  try {
    const inflight = context.inflight;
    const scenario = async (id: string, count: number): Promise<Scenario> => {
      const clients: RpcClient<MathService>[] = [];
      const conns: Deno.Conn[] = [];
      for (let i = 0; i < count; i++) {
        const client = await rpc.openConnection<MathService>(
          { hostname: HOST, port: peer.info.rpcMsgpack },
          { codec: MsgPackCodec },
        );
        closers.push(() => client.close());
        clients.push(client);
        const conn = await connectRaw(HOST, peer.info.raw);
        closers.push(() => conn.close());
        conns.push(conn);
      }
      return {
        id,
        // Both sides on one clock shared by all their loops, read every 16
        // completed calls or frames of all loops together: the slice ends
        // for every connection at once, the same way raw and library.
        partner: {
          id: `${id}@raw`,
          run: (ms) => rawPipelinedAll(conns, ms, inflight),
        },
        // Loop i calls through connection i mod count: `inflight` per
        // connection.
        run: (ms) =>
          sharedClockLoop(
            ms,
            count * inflight,
            (i) => clients[i % count].remote.add(3, 4),
          ),
      };
    };
    const scenarios: Scenario[] = [];
    for (const count of counts(context)) {
      const id = `fanIn${count}`;
      if (wanted(context, id)) {
        scenarios.push(await scenario(id, count));
      }
    }
    return {
      scenarios,
      rows: (samples: Map<string, Sample[]>) => rows(samples, context),
      close: () => closeAll(closers),
    };
  } catch (error) {
    await closeAll(closers);
    throw error;
  }
}

function rows(samples: Map<string, Sample[]>, context: Context): Row[] {
  const n = context.inflight;
  const out: Row[] = [];
  for (const count of counts(context)) {
    const id = `fanIn${count}`;
    if (!samples.has(id)) continue;
    const row = rowOf(samples, {
      family: "fanin",
      id,
      scenario: `RPC add(3, 4), ${count} connections × ${n} in flight`,
      note: "one client process, one server; raw: as many Deno.Conn, " +
        `${n} frames in flight each`,
      unit: "calls/s",
      value: rateOf,
    }, context.options["count-io"]);
    out.push(
      count === 100
        ? judge(row, "≥ 0.60 × raw", row.ratio!, { min: 0.6 })
        : row,
    );
  }
  if (samples.has("fanIn100") && samples.has("fanIn10")) {
    const many = samples.get("fanIn100")!.map(rateOf);
    const few = samples.get("fanIn10")!.map(rateOf);
    const ratio = median(many) / median(few);
    out.push(judge(
      {
        family: "fanin",
        id: "fanIn100vs10",
        scenario: "RPC add, 100 connections vs 10 connections",
        note: "median calls/s of the two rows above (not paired)",
        unit: "×",
        result: ratio,
        baseline: null,
        ratio: null,
        target: "",
        measured: null,
        score: null,
        pass: null,
        rounds: many.map((value, i) => value / few[i]),
      },
      "≥ 1.00 × (10 conns)",
      ratio,
      { min: 1 },
    ));
  }
  return out;
}

/** The fan-in family. */
export const fanIn: PairedFamily = pairedFamily("fanin", FAN_IN_IDS, open);
