// Bulk payloads: a channel echoes a Uint8Array of 1 MiB or 64 KiB (MsgPack
// bin), 1 and 4 in flight, paired with raw Deno.Conn echoing frames of the
// same bytes (a writer per frame in flight and one reader, as a channel
// writes and reads at once). Throughput is MB/s of payload one way. The
// MsgPack+Blosc row echoes 1 MiB of compressible data (a float64 time
// series) and is paired with MsgPack echoing the same bytes: its ratio is
// to MsgPack, not to raw. Target (issue 16): ≥ 0.5 × raw. The bulkOwned
// rows are raw echoes that copy every received frame once into fresh
// memory (both sides): what handing bytes over costs without any library.
import {
  type Channel,
  type CodecClass,
  MsgPackBloscCodec,
  MsgPackCodec,
  openConnection,
} from "../../mod.ts";
import {
  closeAll,
  type Context,
  type PairedFamily,
  pairedFamily,
} from "../_family.ts";
import { closedLoop, type Sample, type Scenario } from "../_measure.ts";
import type { Peer } from "../_peer_process.ts";
import { connectRaw, rawEach, rawFrameOf } from "../_raw.ts";
import { judge, type Row, rowOf } from "../_report.ts";

const HOST = "127.0.0.1";
const MIB = 1024 * 1024;
const KIB_64 = 64 * 1024;

/** The scenario ids of this family. */
export const BULK_IDS = [
  "bulk1MiB",
  "bulk1MiBx4",
  "bulk64KiB",
  "bulk64KiBx4",
  "bulkBlosc1MiB",
  "bulkOwned1MiB",
  "bulkOwned1MiBx4",
  "bulkOwned64KiB",
  "bulkOwned64KiBx4",
] as const;

/** Incompressible bytes (xorshift), as sensor noise or encrypted data is. */
function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = 0x9e3779b9;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x;
  }
  return bytes;
}

/** A float64 time series (a slow wave at 0.01 resolution): compressible. */
function timeSeries(size: number): Uint8Array {
  const values = new Float64Array(size / 8);
  for (let i = 0; i < values.length; i++) {
    values[i] = Math.round((20 + 5 * Math.sin(i / 500)) * 100) / 100;
  }
  return new Uint8Array(values.buffer);
}

async function checkEcho(channel: Channel, payload: Uint8Array) {
  const echoed = await channel.send(payload) as Uint8Array;
  if (
    !(echoed instanceof Uint8Array) || echoed.length !== payload.length ||
    echoed[0] !== payload[0] || echoed.at(-1) !== payload.at(-1)
  ) {
    throw new Error(`bulk: the echo of ${payload.length} bytes differs`);
  }
}

async function open(context: Context, peer: Peer) {
  const closers: (() => Promise<void> | void)[] = [];
  try {
    const info = peer.info;
    const rawConn = await connectRaw(HOST, info.raw);
    closers.push(() => rawConn.close());
    const ownedConn = await connectRaw(HOST, info.rawOwned);
    closers.push(() => ownedConn.close());
    const channel = async (port: number, codec: CodecClass) => {
      const ch = await openConnection({ hostname: HOST, port }, { codec });
      closers.push(() => ch.close());
      return ch;
    };
    const msgpack = await channel(info.bulkMsgpack, MsgPackCodec);
    const blosc = await channel(info.bulkBlosc, MsgPackBloscCodec);
    const payloads = { [MIB]: randomBytes(MIB), [KIB_64]: randomBytes(KIB_64) };
    const series = timeSeries(MIB);
    await checkEcho(msgpack, payloads[MIB]);
    await checkEcho(blosc, series);

    const echo = (
      id: string,
      size: number,
      inflight: number,
    ): Scenario => {
      const payload = payloads[size];
      const frame = rawFrameOf(payload);
      return {
        id,
        partner: {
          id: `${id}@raw`,
          run: (ms) => rawEach(rawConn, ms, inflight, frame),
        },
        run: (ms) => closedLoop(ms, inflight, () => msgpack.send(payload)),
      };
    };
    // The same raw echo with every received frame copied once into fresh
    // memory on both sides: what handing bytes over costs without a library.
    const owned = (id: string, size: number, inflight: number): Scenario => {
      const frame = rawFrameOf(payloads[size]);
      return {
        id,
        partner: {
          id: `${id}@raw`,
          run: (ms) => rawEach(rawConn, ms, inflight, frame),
        },
        run: (ms) => rawEach(ownedConn, ms, inflight, frame, true),
      };
    };
    const scenarios: Scenario[] = [
      echo("bulk1MiB", MIB, 1),
      echo("bulk1MiBx4", MIB, 4),
      echo("bulk64KiB", KIB_64, 1),
      echo("bulk64KiBx4", KIB_64, 4),
      {
        id: "bulkBlosc1MiB",
        partner: {
          id: "bulkSeries1MiB",
          run: (ms) => closedLoop(ms, 1, () => msgpack.send(series)),
        },
        run: (ms) => closedLoop(ms, 1, () => blosc.send(series)),
      },
      owned("bulkOwned1MiB", MIB, 1),
      owned("bulkOwned1MiBx4", MIB, 4),
      owned("bulkOwned64KiB", KIB_64, 1),
      owned("bulkOwned64KiBx4", KIB_64, 4),
    ];
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
  const mbps = (size: number) => (s: Sample) => s.ops * size / s.ms / 1000;
  const out: Row[] = [];
  const echoRow = (id: string, size: number, inflight: number) => {
    if (!samples.has(id)) return;
    const label = size === MIB ? "1 MiB" : "64 KiB";
    const row = rowOf(samples, {
      family: "bulk",
      id,
      scenario: `echo ${label} bytes, MsgPack, ${inflight} in flight`,
      note: "Uint8Array (bin) echoed by a tryRecv() loop; MB/s one way; " +
        "raw: Deno.Conn echoing frames of the same bytes",
      unit: "MB/s",
      value: mbps(size),
    }, context.options["count-io"]);
    out.push(judge(row, "≥ 0.50 × raw", row.ratio ?? NaN, { min: 0.5 }));
  };
  echoRow("bulk1MiB", MIB, 1);
  echoRow("bulk1MiBx4", MIB, 4);
  echoRow("bulk64KiB", KIB_64, 1);
  echoRow("bulk64KiBx4", KIB_64, 4);
  if (samples.has("bulkBlosc1MiB")) {
    const row = rowOf(samples, {
      family: "bulk",
      id: "bulkBlosc1MiB",
      scenario: "echo 1 MiB compressible bytes, MsgPack+Blosc, 1 in flight",
      note: "float64 time series; MB/s of payload; partner and ratio: " +
        "MsgPack echoing the same bytes (not raw)",
      unit: "MB/s",
      value: mbps(MIB),
    }, context.options["count-io"]);
    row.target = "report (× MsgPack)";
    out.push(row);
  }
  const ownedRow = (id: string, size: number, inflight: number) => {
    if (!samples.has(id)) return;
    const label = size === MIB ? "1 MiB" : "64 KiB";
    const row = rowOf(samples, {
      family: "bulk",
      id,
      scenario:
        `raw echo ${label}, each frame copied into fresh memory, ${inflight} in flight`,
      note: "no library: raw Deno.Conn on both sides, every received frame " +
        "copied once into a new Uint8Array (as bytes handed over must be), " +
        "each echo its own write: a reference for the echo rows above",
      unit: "MB/s",
      value: mbps(size),
    }, context.options["count-io"]);
    row.target = "report (reference)";
    out.push(row);
  };
  ownedRow("bulkOwned1MiB", MIB, 1);
  ownedRow("bulkOwned1MiBx4", MIB, 4);
  ownedRow("bulkOwned64KiB", KIB_64, 1);
  ownedRow("bulkOwned64KiBx4", KIB_64, 4);
  return out;
}

/** The bulk family. */
export const bulk: PairedFamily = pairedFamily("bulk", BULK_IDS, open);
