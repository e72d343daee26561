// Fan-in: one client process with 100 (and 10) RPC connections to one
// server, each with 16 calls of `add(3, 4)` in flight, paired with as many
// raw Deno.Conn connections each keeping 16 small frames in flight.
// Targets (issue 16): 100 connections ≥ 0.6 × raw, and at least the
// calls/s of 10 connections. The hand-written pair of `_minimal.ts` over as
// many connections runs beside them (each with its own raw partner): what
// JavaScript without the library gives at the same fan-in.
import { MsgPackCodec, rpc, type RpcClient } from "../../mod.ts";
import type { MathService } from "../_agents.ts";
import {
  type Context,
  openSetup,
  type PairedFamily,
  pairedFamily,
  type Setup,
  wanted,
} from "../_family.ts";
import {
  median,
  rateOf,
  type Sample,
  type Scenario,
  sharedClockLoop,
} from "../_measure.ts";
import { type MinimalClient, minimalClient } from "../_minimal.ts";
import type { Peer } from "../_peer_process.ts";
import { connectRaw, rawPipelinedAll } from "../_raw.ts";
import { judge, plainRow, type Row, rowOf } from "../_report.ts";

const HOST = "127.0.0.1";

/** The scenario ids of this family (with the default connection counts). */
export const FAN_IN_IDS = [
  "fanIn100",
  "fanIn10",
  "minimalFanIn100",
  "minimalFanIn10",
] as const;

/** What the hand-written client sends: the content of an RPC `add(3, 4)`. */
const ADD_CALL = ["add", [3, 4], {}];

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

function open(context: Context, peer: Peer): Promise<Setup> {
  return openSetup(async (closers) => {
    const inflight = context.inflight;
    const rawConns = async (count: number): Promise<Deno.Conn[]> => {
      const conns: Deno.Conn[] = [];
      for (let i = 0; i < count; i++) {
        const conn = await connectRaw(HOST, peer.info.raw);
        closers.push(() => conn.close());
        conns.push(conn);
      }
      return conns;
    };
    // Both sides on one clock shared by all their loops, read every 16
    // completed calls or frames of all loops together: the slice ends for
    // every connection at once, the same way raw and library.
    const rawPartner = (id: string, conns: Deno.Conn[]): Scenario => ({
      id: `${id}@raw`,
      run: (ms) => rawPipelinedAll(conns, ms, inflight),
    });
    /**
     * `count` clients from `open`, each with `inflight` calls in flight:
     * loop i calls through client i mod count.
     */
    const fanIn = async <T>(
      id: string,
      count: number,
      open: () => Promise<T>,
      call: (client: T) => Promise<unknown>,
    ): Promise<Scenario> => {
      const clients: T[] = [];
      for (let i = 0; i < count; i++) clients.push(await open());
      return {
        id,
        partner: rawPartner(id, await rawConns(count)),
        run: (ms) =>
          sharedClockLoop(
            ms,
            count * inflight,
            (i) => call(clients[i % count]),
          ),
      };
    };
    const rpcClient = async (): Promise<RpcClient<MathService>> => {
      const client = await rpc.openConnection<MathService>(
        { hostname: HOST, port: peer.info.rpcMsgpack },
        { codec: MsgPackCodec },
      );
      closers.push(() => client.close());
      return client;
    };
    // The hand-written pair of `_minimal.ts` over as many connections: what
    // JavaScript without the library gives at this fan-in on this machine.
    const handWritten = async (): Promise<MinimalClient> => {
      const conn = await connectRaw(HOST, peer.info.minimalMsgpack);
      closers.push(() => conn.close());
      return minimalClient(conn, new MsgPackCodec());
    };
    const scenarios: Scenario[] = [];
    for (const count of counts(context)) {
      if (wanted(context, `fanIn${count}`)) {
        scenarios.push(
          await fanIn(
            `fanIn${count}`,
            count,
            rpcClient,
            (client) => client.remote.add(3, 4),
          ),
        );
      }
      if (wanted(context, `minimalFanIn${count}`)) {
        scenarios.push(
          await fanIn(
            `minimalFanIn${count}`,
            count,
            handWritten,
            (client) => client.send(ADD_CALL),
          ),
        );
      }
    }
    return {
      scenarios,
      rows: (samples: Map<string, Sample[]>) => rows(samples, context),
    };
  });
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
  for (const count of counts(context)) {
    const id = `minimalFanIn${count}`;
    if (!samples.has(id)) continue;
    out.push(rowOf(samples, {
      family: "fanin",
      id,
      scenario: `hand-written JS calls, ${count} connections × ${n} in flight`,
      note: "bench/_minimal.ts, MsgPack, the content of add(3, 4) echoed: " +
        "no library; a reference for the row of as many connections",
      unit: "calls/s",
      value: rateOf,
    }, context.options["count-io"]));
  }
  out.push(...versus(samples, "fanIn", "RPC add", true));
  out.push(...versus(samples, "minimalFanIn", "hand-written JS calls", false));
  return out;
}

/**
 * The row "100 vs 10 connections" of scenarios `${prefix}100` and
 * `${prefix}10`, judged against the target of issue 16 if `judged`.
 */
function versus(
  samples: Map<string, Sample[]>,
  prefix: string,
  what: string,
  judged: boolean,
): Row[] {
  const out: Row[] = [];
  if (samples.has(`${prefix}100`) && samples.has(`${prefix}10`)) {
    const many = samples.get(`${prefix}100`)!.map(rateOf);
    const few = samples.get(`${prefix}10`)!.map(rateOf);
    const ratio = median(many) / median(few);
    const row = plainRow(
      "fanin",
      `${prefix}100vs10`,
      `${what}, 100 connections vs 10 connections`,
      `median calls/s of ${prefix}100 and ${prefix}10 (not paired)`,
      "×",
      many.map((value, i) => value / few[i]),
      ratio,
    );
    out.push(
      judged ? judge(row, "≥ 1.00 × (10 conns)", ratio, { min: 1 }) : row,
    );
  }
  return out;
}

/** The fan-in family. */
export const fanIn: PairedFamily = pairedFamily("fanin", FAN_IN_IDS, open);
