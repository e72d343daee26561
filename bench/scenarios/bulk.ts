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
  type Context,
  openSetup,
  type PairedFamily,
  pairedFamily,
  type Setup,
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

function open(context: Context, peer: Peer): Promise<Setup> {
  return openSetup(async (closers) => {
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

    /** Echo of `size` bytes by `run`, beside raw echoing the same frames. */
    const paired = (
      id: string,
      size: number,
      inflight: number,
      run: (ms: number, frame: Uint8Array) => Promise<Sample>,
    ): Scenario => {
      const frame = rawFrameOf(payloads[size]);
      return {
        id,
        partner: {
          id: `${id}@raw`,
          run: (ms) => rawEach(rawConn, ms, inflight, frame),
        },
        run: (ms) => run(ms, frame),
      };
    };
    const echo = (id: string, size: number, inflight: number) =>
      paired(
        id,
        size,
        inflight,
        (ms) => closedLoop(ms, inflight, () => msgpack.send(payloads[size])),
      );
    // The same raw echo with every received frame copied once into fresh
    // memory on both sides: what handing bytes over costs without a library.
    const owned = (id: string, size: number, inflight: number) =>
      paired(
        id,
        size,
        inflight,
        (ms, frame) => rawEach(ownedConn, ms, inflight, frame, true),
      );
    const scenarios: Scenario[] = [
      ...ECHOES.map(([suffix, size, n]) => echo(`bulk${suffix}`, size, n)),
      {
        id: "bulkBlosc1MiB",
        partner: {
          id: "bulkSeries1MiB",
          run: (ms) => closedLoop(ms, 1, () => msgpack.send(series)),
        },
        run: (ms) => closedLoop(ms, 1, () => blosc.send(series)),
      },
      ...ECHOES.map(([suffix, size, n]) =>
        owned(`bulkOwned${suffix}`, size, n)
      ),
    ];
    return {
      scenarios,
      rows: (samples: Map<string, Sample[]>) => rows(samples, context),
    };
  });
}

/** The echoes measured, by id: payload size and calls in flight. */
const ECHOES: [string, number, number][] = [
  ["1MiB", MIB, 1],
  ["1MiBx4", MIB, 4],
  ["64KiB", KIB_64, 1],
  ["64KiBx4", KIB_64, 4],
];

function rows(samples: Map<string, Sample[]>, context: Context): Row[] {
  const row = (id: string, size: number, scenario: string, note: string) =>
    samples.has(id)
      ? rowOf(samples, {
        family: "bulk",
        id,
        scenario,
        note,
        unit: "MB/s",
        value: (s: Sample) => s.ops * size / s.ms / 1000,
      }, context.options["count-io"])
      : undefined;
  const label = (size: number) => size === MIB ? "1 MiB" : "64 KiB";
  const out: Row[] = [];
  for (const [suffix, size, inflight] of ECHOES) {
    const echo = row(
      `bulk${suffix}`,
      size,
      `echo ${label(size)} bytes, MsgPack, ${inflight} in flight`,
      "Uint8Array (bin) echoed by a tryRecv() loop; MB/s one way; " +
        "raw: Deno.Conn echoing frames of the same bytes",
    );
    if (echo !== undefined) {
      out.push(judge(echo, "≥ 0.50 × raw", echo.ratio ?? NaN, { min: 0.5 }));
    }
  }
  const blosc = row(
    "bulkBlosc1MiB",
    MIB,
    "echo 1 MiB compressible bytes, MsgPack+Blosc, 1 in flight",
    "float64 time series; MB/s of payload; partner and ratio: " +
      "MsgPack echoing the same bytes (not raw)",
  );
  if (blosc !== undefined) {
    blosc.target = "report (× MsgPack)";
    out.push(blosc);
  }
  for (const [suffix, size, inflight] of ECHOES) {
    const owned = row(
      `bulkOwned${suffix}`,
      size,
      `raw echo ${
        label(size)
      }, each frame copied into fresh memory, ${inflight} in flight`,
      "no library: raw Deno.Conn on both sides, every received frame " +
        "copied once into a new Uint8Array (as bytes handed over must be), " +
        "each echo its own write: a reference for the echo rows above",
    );
    if (owned !== undefined) {
      owned.target = "report (reference)";
      out.push(owned);
    }
  }
  return out;
}

/** The bulk family. */
export const bulk: PairedFamily = pairedFamily("bulk", BULK_IDS, open);
