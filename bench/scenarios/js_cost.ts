// The JavaScript a small message costs, without sockets: the channel's
// server and client paths against the hand-written pair of `_minimal.ts`,
// each over an in-process stand-in for its Deno.Conn (`_fake_conn.ts`)
// that answers a microtask later. The small family's rows add two kernels'
// work (reads, writes, wake-ups) and the VM's noise to this; here the
// ratio is the library's own per-message cost against the least any
// JavaScript implementation pays (same codec, a promise per call), and it
// moves less from run to run. With --js-evict=KB that much other memory is
// written before each batch, so the code under test starts with cold
// caches, as it does beside a socket's kernel work; the rates leave the
// walks' time out (the CPU column does not). Reported, not judged:
// the small family's rows carry the target.
import { encodeFrames } from "../../channel/_frame_parser.ts";
import { Channel, MsgPackCodec } from "../../mod.ts";
import { echoEach } from "../_echo.ts";
import {
  type BeforeBatch,
  evictor,
  msgpackEchoConn,
  requestFeed,
} from "../_fake_conn.ts";
import {
  type Context,
  localFamily,
  openSetup,
  type PairedFamily,
  type Setup,
} from "../_family.ts";
import {
  CLOCK_EVERY,
  closedLoop,
  rateOf,
  type Sample,
  type Scenario,
} from "../_measure.ts";
import { PAYLOAD_48 } from "../_messages.ts";
import {
  minimalClient,
  serveMinimal,
  serveMinimalRequests,
} from "../_minimal.ts";
import { type Row, rowOf } from "../_report.ts";

/** The scenario ids of this family. */
export const JS_IDS = [
  "jsServer",
  "jsServerMinimal",
  "jsServerRequests",
  "jsClient",
  "jsClientMinimal",
] as const;

/** Requests per batch the feed hands a server: one read's worth at 16 in flight. */
const BATCH = 16;

/** A feed of 16 MsgPack requests `[0, id, PAYLOAD_48]` and their replies' size. */
function feedOf(beforeBatch: BeforeBatch) {
  const codec = new MsgPackCodec();
  const ids = Array.from({ length: BATCH }, (_, i) => 1000 + i);
  const encode = (message: unknown[]) => codec.encode(message) as Uint8Array;
  const requests = encodeFrames(ids.map((id) => encode([0, id, PAYLOAD_48])));
  const replies = encodeFrames(ids.map((id) => encode([1, id, PAYLOAD_48])));
  return requestFeed(requests, BATCH, replies.length, beforeBatch);
}

function open(context: Context): Promise<Setup> {
  return openSetup((closers) => {
    const evictKb = context.options["js-evict"] ?? 0;
    const evict = evictKb > 0 ? evictor(evictKb * 1024) : undefined;
    const beforeBatch = evict?.walk ?? (() => {});
    // A sample's time leaves out the walks: their own time varies more
    // than what the cold caches cost the code under test.
    const net =
      (run: (ms: number) => Promise<Sample>) => async (ms: number) => {
        const walked = evict?.spentMs ?? 0;
        const sample = await run(ms);
        return { ...sample, ms: sample.ms - ((evict?.spentMs ?? 0) - walked) };
      };
    const serverFeed = feedOf(beforeBatch);
    const server = new Channel(serverFeed.conn, { codec: new MsgPackCodec() });
    const serving = echoEach(server);
    closers.push(async () => {
      await server.close();
      await serving;
    });
    /** A feed served by a hand-written server; closed with the setup. */
    const handWritten = (
      serve: (conn: Deno.Conn, codec: MsgPackCodec) => Promise<void>,
    ) => {
      const feed = feedOf(beforeBatch);
      const serving = serve(
        feed.conn as unknown as Deno.Conn,
        new MsgPackCodec(),
      );
      closers.push(async () => {
        feed.conn.close();
        await serving;
      });
      return feed;
    };
    const minimalFeed = handWritten(serveMinimal);
    const requestsFeed = handWritten(serveMinimalRequests);
    const client = new Channel(msgpackEchoConn(beforeBatch), {
      codec: new MsgPackCodec(),
    });
    closers.push(() => client.close());
    const minimalConn = msgpackEchoConn(beforeBatch);
    const minimal = minimalClient(
      minimalConn as unknown as Deno.Conn,
      new MsgPackCodec(),
    );
    closers.push(() => minimalConn.close());

    const fed = (feed: ReturnType<typeof feedOf>) =>
      net(async (ms) => {
        const start = performance.now();
        const ops = await feed.feed(ms);
        return { ops, ms: performance.now() - start };
      });
    const calls = (send: (x: string) => Promise<unknown>) =>
      net((ms) =>
        closedLoop(ms, context.inflight, () => send(PAYLOAD_48), CLOCK_EVERY)
      );
    const serverMinimal: Scenario = {
      id: "jsServerMinimal",
      run: fed(minimalFeed),
    };
    const clientMinimal: Scenario = {
      id: "jsClientMinimal",
      run: calls((x) => minimal.send(x)),
    };
    const scenarios: Scenario[] = [
      serverMinimal,
      { id: "jsServer", partner: serverMinimal, run: fed(serverFeed) },
      {
        id: "jsServerRequests",
        partner: serverMinimal,
        run: fed(requestsFeed),
      },
      clientMinimal,
      {
        id: "jsClient",
        partner: clientMinimal,
        run: calls((x) => client.send(x)),
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
  const spec = (id: string, scenario: string, note: string) => ({
    family: "js",
    id,
    scenario,
    note,
    unit: "msgs/s" as const,
    value: rateOf,
  });
  const evictKb = context.options["js-evict"];
  const fake = "in-process stand-in for Deno.Conn, MsgPack, 48-char string" +
    (evictKb === undefined
      ? ""
      : `; ${evictKb} KB evicted before each batch (its time left out)`);
  const specs = [
    spec(
      "jsServer",
      `channel server path (tryRecv loop), no sockets, ${BATCH} per read`,
      `${fake}; partner: the hand-written server (jsServerMinimal)`,
    ),
    spec(
      "jsServerMinimal",
      `hand-written server path, no sockets, ${BATCH} per read`,
      `${fake}; bench/_minimal.ts`,
    ),
    spec(
      "jsServerRequests",
      `hand-written server path with request objects, ${BATCH} per read`,
      `${fake}; the least the request-object API adds (a tryRecv loop, reply()); partner: jsServerMinimal`,
    ),
    spec(
      "jsClient",
      `channel client path, ${n} in flight, no sockets`,
      `${fake}; partner: the hand-written client (jsClientMinimal)`,
    ),
    spec(
      "jsClientMinimal",
      `hand-written client path, ${n} in flight, no sockets`,
      `${fake}; bench/_minimal.ts`,
    ),
  ];
  const countIo = context.options["count-io"];
  return specs.filter((s) => samples.has(s.id)).map((s) =>
    rowOf(samples, s, countIo)
  );
}

/** The js family: needs no peer process. */
export const jsCost: PairedFamily = localFamily("js", JS_IDS, open);
