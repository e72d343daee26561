// Small messages (48-character strings, frames of about 64 bytes) against
// the peer process: channel request/reply serial and 16 in flight, RPC
// `add`, and the hand-written pair of `_minimal.ts` beside them. Serial
// scenarios are paired with a raw serial ping-pong, pipelined ones with
// raw frames 16 in flight. Their target: at least 0.95 × the speed of the
// hand-written row in the same run (the runner judges that, see e2e.ts).
// The telemetry rows pair RPC `add` with the same calls with
// `telemetry: false` on both ends (no telemetry code at all) instead: by
// default, with no provider registered, at least 0.98 × that; traced and
// with metrics recorded, the ratio is their cost.
import {
  type Channel,
  type CodecClass,
  JsonCodec,
  MsgPackCodec,
  openConnection,
  rpc,
  type RpcTelemetryOptions,
} from "../../mod.ts";
import type { MathService } from "../_agents.ts";
import {
  type Context,
  openSetup,
  type PairedFamily,
  pairedFamily,
  type Setup,
} from "../_family.ts";
import {
  CLOCK_EVERY,
  closedLoop,
  rateOf,
  rttOf,
  type Sample,
  type Scenario,
} from "../_measure.ts";
import { PAYLOAD_48 } from "../_messages.ts";
import { minimalClient } from "../_minimal.ts";
import {
  meteredTelemetry,
  type Peer,
  tracedTelemetry,
} from "../_peer_process.ts";
import { connectRaw, rawEach, rawPipelined, rawSerial } from "../_raw.ts";
import { judge, type Row, rowOf, type RowSpec } from "../_report.ts";

const HOST = "127.0.0.1";

/** The scenario ids of this family. */
export const SMALL_IDS = [
  "rawSerial",
  "channelSerialJson",
  "channelSerialMsgpack",
  "minimalSerialJson",
  "minimalSerialMsgpack",
  "rawPipe",
  "rawEach",
  "channelPipe",
  "channelPipeForAwait",
  "minimalPipe",
  "minimalRequestsPipe",
  "rpcPipe",
  "rpcPipeNoProvider",
  "rpcPipeTraced",
  "rpcPipeMetered",
] as const;

/** The telemetry rows, judged against `telemetry: false` (or only reported). */
const TELEMETRY_TARGETS: Record<string, number | undefined> = {
  rpcPipeNoProvider: 0.98,
  rpcPipeTraced: undefined,
  rpcPipeMetered: undefined,
};

/** For each row judged against a hand-written one: that row's id. */
export const HAND_WRITTEN: Record<string, string> = {
  channelSerialJson: "minimalSerialJson",
  channelSerialMsgpack: "minimalSerialMsgpack",
  channelPipe: "minimalPipe",
  rpcPipe: "minimalPipe",
  agentRemotePipe: "agentMinimalPipe",
};

/**
 * References shown beside a hand-written row, not judged: their speed
 * relative to it (the request-object API's own cost, without the library).
 */
export const BESIDE_HAND_WRITTEN: Record<string, string> = {
  minimalRequestsPipe: "minimalPipe",
};

function open(context: Context, peer: Peer): Promise<Setup> {
  return openSetup(async (closers) => {
    const info = peer.info;
    const inflight = context.inflight;
    const serialConn = await connectRaw(HOST, info.raw);
    const pipeConn = await connectRaw(HOST, info.raw);
    closers.push(() => serialConn.close(), () => pipeConn.close());
    const minimal = async (port: number, codec: CodecClass) => {
      const conn = await connectRaw(HOST, port);
      closers.push(() => conn.close());
      return minimalClient(conn, new codec());
    };
    const minimalSerialJson = await minimal(info.minimalJson, JsonCodec);
    const minimalSerialMsgpack = await minimal(
      info.minimalMsgpack,
      MsgPackCodec,
    );
    const minimalPipe = await minimal(info.minimalMsgpack, MsgPackCodec);
    const minimalRequests = await minimal(info.minimalRequests, MsgPackCodec);
    const channel = async (port: number, codec: CodecClass) => {
      const ch: Channel = await openConnection({ hostname: HOST, port }, {
        codec,
      });
      closers.push(() => ch.close());
      return ch;
    };
    const jsonSerial = await channel(info.channelJson, JsonCodec);
    const msgpackSerial = await channel(info.channelMsgpack, MsgPackCodec);
    const msgpackPipe = await channel(info.channelMsgpackEach, MsgPackCodec);
    const msgpackForAwait = await channel(info.channelMsgpack, MsgPackCodec);
    const rpcTo = async (
      port: number,
      telemetry?: RpcTelemetryOptions | false,
    ) => {
      const client = await rpc.openConnection<MathService>(
        { hostname: HOST, port },
        { codec: MsgPackCodec, telemetry },
      );
      closers.push(() => client.close());
      return client;
    };
    const rpcClient = await rpcTo(info.rpcMsgpack);
    const rpcDefault = await rpcTo(info.rpcMsgpack);
    const rpcOff = await rpcTo(info.rpcMsgpackOff, false);
    const rpcTraced = await rpcTo(info.rpcMsgpackTraced, tracedTelemetry());
    const rpcMetered = await rpcTo(
      info.rpcMsgpackMetered,
      meteredTelemetry(),
    );

    const rawSerialScenario: Scenario = {
      id: "rawSerial",
      run: (ms) => rawSerial(serialConn, ms),
    };
    const rawPipe: Scenario = {
      id: "rawPipe",
      run: (ms) => rawPipelined(pipeConn, ms, inflight),
    };
    const serial = (id: string, send: (x: string) => Promise<unknown>) => ({
      id,
      partner: rawSerialScenario,
      run: (ms: number) => closedLoop(ms, 1, () => send(PAYLOAD_48)),
    });
    const pipe = (
      id: string,
      call: () => Promise<unknown>,
      partner = rawPipe,
    ): Scenario => ({
      id,
      partner,
      run: (ms) => closedLoop(ms, inflight, call, CLOCK_EVERY),
    });
    const telemetryOff = pipe(
      "rpcPipeTelemetryOff",
      () => rpcOff.remote.add(3, 4),
    );
    const scenarios: Scenario[] = [
      rawSerialScenario,
      serial("channelSerialJson", (x) => jsonSerial.send(x)),
      serial("channelSerialMsgpack", (x) => msgpackSerial.send(x)),
      serial("minimalSerialJson", (x) => minimalSerialJson.send(x)),
      serial("minimalSerialMsgpack", (x) => minimalSerialMsgpack.send(x)),
      rawPipe,
      {
        id: "rawEach",
        partner: rawPipe,
        run: (ms) => rawEach(pipeConn, ms, inflight),
      },
      pipe("channelPipe", () => msgpackPipe.send(PAYLOAD_48)),
      pipe("channelPipeForAwait", () => msgpackForAwait.send(PAYLOAD_48)),
      pipe("minimalPipe", () => minimalPipe.send(PAYLOAD_48)),
      pipe("minimalRequestsPipe", () => minimalRequests.send(PAYLOAD_48)),
      pipe("rpcPipe", () => rpcClient.remote.add(3, 4)),
      pipe(
        "rpcPipeNoProvider",
        () => rpcDefault.remote.add(3, 4),
        telemetryOff,
      ),
      pipe("rpcPipeTraced", () => rpcTraced.remote.add(3, 4), telemetryOff),
      pipe("rpcPipeMetered", () => rpcMetered.remote.add(3, 4), telemetryOff),
    ];
    return {
      scenarios,
      rows: (samples: Map<string, Sample[]>) => rows(samples, context),
    };
  });
}

function rows(samples: Map<string, Sample[]>, context: Context): Row[] {
  const n = context.inflight;
  const countIo = context.options["count-io"];
  const serial = (id: string, scenario: string, note: string): RowSpec => ({
    family: "small",
    id,
    scenario,
    note,
    unit: "µs/round trip",
    value: rttOf,
  });
  const pipe = (id: string, scenario: string, note: string): RowSpec => ({
    family: "small",
    id,
    scenario,
    note,
    unit: "msgs/s",
    value: rateOf,
  });
  const minimalNote =
    "bench/_minimal.ts on both sides: a promise per call, same codec, no library";
  const specs: RowSpec[] = [
    serial(
      "rawSerial",
      "raw Deno.Conn ping-pong, serial",
      "64-byte frames, conn.read/conn.write",
    ),
    serial(
      "channelSerialJson",
      "channel request/reply, serial, JSON",
      "48-char string, echoed; frame 62 B",
    ),
    serial(
      "channelSerialMsgpack",
      "channel request/reply, serial, MsgPack",
      "48-char string, echoed; frame 58 B",
    ),
    serial(
      "minimalSerialJson",
      "hand-written JS request/reply, serial, JSON",
      minimalNote,
    ),
    serial(
      "minimalSerialMsgpack",
      "hand-written JS request/reply, serial, MsgPack",
      minimalNote,
    ),
    pipe(
      "rawPipe",
      `raw Deno.Conn, ${n} in flight`,
      "64-byte frames, one write per read",
    ),
    pipe(
      "rawEach",
      `raw Deno.Conn, ${n} in flight, a write per request`,
      "64-byte frames; each requester writes its own (not a baseline)",
    ),
    pipe(
      "channelPipe",
      `channel request/reply, ${n} in flight, MsgPack`,
      "48-char string, echoed by a tryRecv() loop",
    ),
    pipe(
      "channelPipeForAwait",
      `channel, ${n} in flight, server loop with for await`,
      "the same, echoed by for await + await reply",
    ),
    pipe(
      "minimalPipe",
      `hand-written JS request/reply, ${n} in flight, MsgPack`,
      minimalNote,
    ),
    pipe(
      "minimalRequestsPipe",
      `hand-written JS, ${n} in flight, request objects on the server`,
      "bench/_minimal.ts; the server takes requests as objects (tryRecv loop, reply()): what that API adds",
    ),
    pipe("rpcPipe", `RPC add(3, 4), ${n} in flight, MsgPack`, "client.remote"),
    pipe(
      "rpcPipeNoProvider",
      `RPC add, ${n} in flight, telemetry on, no provider registered`,
      "the default path; partner: telemetry: false on both ends",
    ),
    pipe(
      "rpcPipeTraced",
      `RPC add, ${n} in flight, traced`,
      "SDK tracer provider, spans dropped; partner: telemetry: false",
    ),
    pipe(
      "rpcPipeMetered",
      `RPC add, ${n} in flight, metrics recorded`,
      "SDK meter provider, never collected; partner: telemetry: false",
    ),
  ];
  return specs.filter((spec) => samples.has(spec.id)).map((spec) => {
    const row = rowOf(samples, spec, countIo);
    if (spec.id in TELEMETRY_TARGETS) {
      const min = TELEMETRY_TARGETS[spec.id];
      if (min !== undefined) {
        judge(row, `≥ ${min} × telemetry off`, row.ratio ?? NaN, { min });
      }
    }
    return row;
  });
}

/** The small-message family. */
export const small: PairedFamily = pairedFamily("small", SMALL_IDS, open);
