// One batch of the fuzz driver: a fresh RPC server, a well-behaved client, and
// raw connections that send the inputs and judge the server's answers.

import { ProtocolError, rpc } from "../../mod.ts";
import {
  CODEC_CLASSES,
  type CodecName,
  hex,
  oracleCodec,
} from "./_fuzz_codecs.ts";
import { FuzzService, RawPeer, writeAll } from "./_fuzz_endpoints.ts";
import { type FuzzInput, generateInput } from "./_fuzz_families.ts";
import { type ExpectedRequest, plan, sameValue } from "./_fuzz_oracle.ts";
import { mixSeed, Rng } from "./_fuzz_random.ts";
import {
  describeError,
  type Finding,
  type FuzzOptions,
  type FuzzStats,
  shape,
} from "./_fuzz_stats.ts";

export async function runBatch(
  codec: CodecName,
  first: number,
  end: number,
  options: FuzzOptions,
  exclude: readonly string[],
  stats: FuzzStats,
  record: (finding: Finding) => void,
): Promise<void> {
  const deadlineMs = options.deadlineMs ?? 3000;
  const oracle = oracleCodec(codec);
  const server = await rpc.startServer(
    { hostname: "127.0.0.1", port: 0 },
    new FuzzService(),
    {
      codec: CODEC_CLASSES[codec],
      onConnection: (client) => {
        stats.server.accepted++;
        client.closed.then(
          () => stats.server.clean++,
          (error) => {
            const key = shape(describeError(error));
            stats.reasons[key] = (stats.reasons[key] ?? 0) + 1;
            if (error instanceof ProtocolError) stats.server.protocolErrors++;
            else {
              stats.server.other++;
              record({
                kind: "server connection failed without a ProtocolError",
                codec,
                index: -1,
                family: "?",
                detail: describeError(error) + " / cause: " +
                  describeError((error as Error).cause),
                bytes: "",
              });
            }
          },
        );
      },
    },
  );
  const addr = server.addr as { hostname: string; port: number };

  // The well-behaved client: its own connection, calling add throughout.
  const client = await rpc.openConnection(addr, {
    codec: CODEC_CLASSES[codec],
  });
  let stop = false;
  const loops = Array.from(
    { length: options.wellBehavedLoops ?? 2 },
    async (_, loop) => {
      const rng = new Rng(mixSeed(options.seed, first, loop, 77));
      while (!stop) {
        const a = rng.int(1 << 30);
        const b = rng.int(1 << 30);
        stats.wellBehaved.calls++;
        try {
          const result = await client.call("add", [a, b], {}, {
            timeout: deadlineMs,
          });
          if (result === a + b) stats.wellBehaved.ok++;
          else stats.wellBehaved.wrong++;
        } catch (error) {
          stats.wellBehaved.lost++;
          record({
            kind: "well-behaved call lost",
            codec,
            index: -1,
            family: "add",
            detail: describeError(error),
            bytes: "",
          });
          // Its connection is likely gone: calls would fail at once, in a
          // loop that never yields to the event loop.
          break;
        }
      }
    },
  );

  let next = first;
  const worker = async (workerIndex: number) => {
    const rng = new Rng(mixSeed(options.seed, first, workerIndex, 99));
    while (next < end) {
      const slots = rng.range(1, options.maxInputsPerConnection ?? 4);
      await fuzzConnection(addr, slots);
    }
  };

  const fuzzConnection = async (
    target: { hostname: string; port: number },
    slots: number,
  ) => {
    const conn = await Deno.connect(target);
    conn.setNoDelay(true);
    stats.connections++;
    const peer = new RawPeer(conn);
    let open = true;
    let last: FuzzInput | null = null;
    for (let slot = 0; slot < slots && open && next < end; slot++) {
      const index = next++;
      const input = await generateInput(codec, options.seed, index, exclude);
      last = input;
      stats.inputs++;
      const family = input.family.startsWith("multi(") ? "multi" : input.family;
      stats.byFamily[family] = (stats.byFamily[family] ?? 0) + 1;
      if (
        options.onProgress !== undefined &&
        stats.inputs % (options.progressEvery ?? 10000) === 0
      ) options.onProgress(stats);
      const expected = await plan(input.bytes, oracle);
      const finding = (kind: string, detail: string) =>
        record({
          kind,
          codec,
          index,
          family: input.family,
          detail,
          bytes: hex(input.bytes),
        });
      try {
        await writeAll(conn, input.bytes, input.splits);
      } catch {
        // The server closed the connection while we wrote: judged below.
      }
      if (expected.incomplete && expected.bad === null) {
        stats.incompleteInputs++;
        await conn.closeWrite().catch(() => {});
      }
      const mustEnd = expected.bad !== null || expected.incomplete;
      const waiting = [...expected.requests];
      const deadline = performance.now() + deadlineMs;
      for (;;) {
        if (!mustEnd && waiting.length === 0) break;
        const event = await peer.next(deadline);
        if (event === null) {
          stats.hangs++;
          finding(
            "hang",
            `no ${
              mustEnd ? "close" : "reply"
            } within ${deadlineMs} ms (${waiting.length} of ${expected.requests.length} requests unanswered; ${
              expected.bad ?? (expected.incomplete ? "incomplete" : "valid")
            })`,
          );
          open = false;
          break;
        }
        if (event.kind === "closed") {
          open = false;
          if (mustEnd) stats.serverCloses++;
          else {
            stats.unexpectedCloses++;
            finding(
              "unexpected close",
              `closed with ${waiting.length} of ${expected.requests.length} valid requests unanswered: ${
                describeError(event.error ?? "EOF")
              }`,
            );
          }
          break;
        }
        let message: unknown;
        try {
          message = await oracle.decode(event.payload);
        } catch (error) {
          stats.badFrames++;
          finding("undecodable frame from the server", describeError(error));
          continue;
        }
        if (
          expected.refs && Array.isArray(message) && message.length === 3 &&
          message[0] === 0
        ) {
          // The server calls back through a reference we sent: fine.
          stats.callbacks++;
          continue;
        }
        if (
          !Array.isArray(message) || message.length !== 3 ||
          (message[0] !== 1 && message[0] !== 2)
        ) {
          stats.badFrames++;
          finding(
            "unexpected frame from the server",
            hex(event.payload, 64),
          );
          continue;
        }
        stats.replies++;
        const [type, id, content] = message;
        const fits = (request: ExpectedRequest): boolean =>
          !(request.type !== undefined && request.type !== type) &&
          !(type === 1 && request.result !== undefined &&
            !sameValue(request.result.value, content)) &&
          !(type === 2 && typeof content !== "string");
        // Replies may come in any order: when several requests share this
        // id, the reply is for one it fits, if there is one.
        let at = waiting.findIndex((request) =>
          sameValue(request.id, id) && fits(request)
        );
        if (at < 0) {
          at = waiting.findIndex((request) => sameValue(request.id, id));
        }
        if (at < 0) {
          stats.badFrames++;
          finding("reply to an id not sent", hex(event.payload, 64));
          continue;
        }
        const [request] = waiting.splice(at, 1);
        if (!fits(request)) {
          stats.wrongReplies++;
          finding(
            "wrong reply",
            `type ${type}, expected ${request.type ?? "any"}: ${
              type === 2 ? String(content).split("\n").slice(-2).join(" ") : ""
            }`.slice(0, 300),
          );
        }
      }
      // The server may hold calls back to us and count its own ids now:
      // later inputs could not be judged. End this connection.
      if (expected.refs) break;
    }
    if (open && last !== null) {
      // Done with this connection: EOF, and the server must close too.
      await conn.closeWrite().catch(() => {});
      const deadline = performance.now() + deadlineMs;
      for (;;) {
        const event = await peer.next(deadline);
        if (event === null) {
          stats.hangs++;
          record({
            kind: "hang",
            codec,
            index: last.index,
            family: "eof",
            detail: `no close within ${deadlineMs} ms of EOF`,
            bytes: "",
          });
          break;
        }
        if (event.kind === "closed") break;
        stats.badFrames++;
        record({
          kind: "unexpected frame after EOF",
          codec,
          index: last.index,
          family: last.family,
          detail: hex(event.payload, 64),
          bytes: "",
        });
      }
    }
    try {
      conn.close();
    } catch {
      // Closed already.
    }
    await peer.done;
  };

  await Promise.all(
    Array.from({ length: options.concurrency ?? 8 }, (_, i) => worker(i)),
  );
  stop = true;
  await Promise.all(loops);
  await client.close();
  await server.close({ timeout: deadlineMs });
  // Every server-side connection has settled its `closed` promise.
  await Promise.resolve();
}
