// Load driver shared by load_test.ts and soak.ts: many RPC connections
// (MsgPack) to one server, each making calls with random payloads (strings
// and bytes, 0 B to 64 KiB) whose replies are a known function of the
// request, so that a lost, duplicated or crossed reply is detected.
import { expose, MsgPackCodec, rpc, type RpcClient } from "../../mod.ts";
import { mixSeed, Rng } from "./_fuzz.ts";

/** The largest payload: 64 KiB. */
export const MAX_PAYLOAD = 64 * 1024;

/** What the server computes: the reply every request must get back. */
export function transform(id: number, payload: string | Uint8Array): unknown[] {
  if (typeof payload === "string") {
    return [id, payload.length, payload.toUpperCase()];
  }
  const out = new Uint8Array(payload.length);
  const key = id & 0xff;
  for (let i = 0; i < payload.length; i++) out[i] = payload[i] ^ key;
  return [id, payload.length, out];
}

function sameReply(a: unknown[], b: unknown[]): boolean {
  if (a.length !== 3 || a[0] !== b[0] || a[1] !== b[1]) return false;
  const x = a[2];
  const y = b[2];
  if (typeof x === "string") return x === y;
  if (!(x instanceof Uint8Array) || !(y instanceof Uint8Array)) return false;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

class LoadService {
  @expose
  transform(id: number, payload: string | Uint8Array): unknown[] {
    return transform(id, payload);
  }
}

/** Options of {@linkcode runLoad}. */
export interface LoadOptions {
  connections: number;
  callsPerConnection: number;
  /** Calls in flight per connection. */
  inFlight?: number;
  /** "uniform": sizes uniform in [0, 64 KiB]; "log": log-uniform (mostly small). */
  sizes?: "uniform" | "log";
  seed?: number;
  /** Called about every `progressEvery` calls. */
  onProgress?: (result: LoadResult) => void;
  progressEvery?: number;
}

/** What happened. */
export interface LoadResult {
  calls: number;
  ok: number;
  /** Calls that rejected. */
  lost: number;
  /** Replies that were not the function of their request. */
  mismatched: number;
  bytesSent: number;
  elapsedMs: number;
  peakRss: number;
  /** Peak of heapUsed + external (ArrayBuffers). */
  peakHeap: number;
  /** The first errors, for the report. */
  errors: string[];
}

/**
 * Starts one RPC server and `connections` clients, makes every client do
 * `callsPerConnection` calls (`inFlight` at a time), checks every reply,
 * samples memory every 100 ms, and closes everything.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const result: LoadResult = {
    calls: 0,
    ok: 0,
    lost: 0,
    mismatched: 0,
    bytesSent: 0,
    elapsedMs: 0,
    peakRss: 0,
    peakHeap: 0,
    errors: [],
  };
  const sample = () => {
    const usage = Deno.memoryUsage();
    result.peakRss = Math.max(result.peakRss, usage.rss);
    result.peakHeap = Math.max(
      result.peakHeap,
      usage.heapUsed + usage.external,
    );
  };
  sample();
  const sampler = setInterval(sample, 100);
  const seed = options.seed ?? 1;
  const inFlight = options.inFlight ?? 8;
  const sizes = options.sizes ?? "uniform";
  // Payloads are slices of one random text and one random buffer.
  const base = new Rng(mixSeed(seed, 1));
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 éü中😀";
  const chars = [...alphabet];
  let text = "";
  while (text.length < 2 * MAX_PAYLOAD) text += base.pick(chars);
  const bytes = base.bytes(2 * MAX_PAYLOAD);

  const server = await rpc.startServer(
    { hostname: "127.0.0.1", port: 0 },
    new LoadService(),
    { codec: MsgPackCodec },
  );
  const clients: RpcClient[] = [];
  const started = performance.now();
  let nextProgress = options.progressEvery ?? Infinity;
  try {
    for (let i = 0; i < options.connections; i++) {
      clients.push(
        await rpc.openConnection(server.addr, { codec: MsgPackCodec }),
      );
    }
    let nextId = 0;
    const runClient = async (client: RpcClient, index: number) => {
      const rng = new Rng(mixSeed(seed, 2, index));
      let remaining = options.callsPerConnection;
      const lane = async () => {
        while (remaining > 0) {
          remaining--;
          const id = nextId++;
          const size = sizes === "uniform"
            ? rng.int(MAX_PAYLOAD + 1)
            : Math.floor(Math.exp(rng.float() * Math.log(MAX_PAYLOAD + 1))) - 1;
          const offset = rng.int(MAX_PAYLOAD);
          // Well-formed text: a slice may cut a surrogate pair, and MsgPack
          // cannot carry a lone surrogate (see bugs_test.ts, bug 7).
          const payload = rng.chance(0.5)
            ? text.slice(offset, offset + size).toWellFormed()
            : bytes.subarray(offset, offset + size);
          result.calls++;
          result.bytesSent += typeof payload === "string"
            ? payload.length
            : payload.length;
          try {
            const reply = await client.call("transform", [id, payload]);
            if (
              Array.isArray(reply) && sameReply(reply, transform(id, payload))
            ) result.ok++;
            else {
              result.mismatched++;
              if (result.errors.length < 10) {
                result.errors.push(`call ${id}: wrong reply`);
              }
            }
          } catch (error) {
            result.lost++;
            if (result.errors.length < 10) {
              result.errors.push(`call ${id}: ${error}`);
            }
          }
          if (result.calls >= nextProgress && options.onProgress) {
            nextProgress += options.progressEvery!;
            sample();
            result.elapsedMs = performance.now() - started;
            options.onProgress(result);
          }
        }
      };
      await Promise.all(Array.from({ length: inFlight }, lane));
    };
    await Promise.all(clients.map(runClient));
  } finally {
    result.elapsedMs = performance.now() - started;
    sample();
    for (const client of clients) await client.close();
    await server.close();
    clearInterval(sampler);
  }
  return result;
}

/** One line per figure. */
export function describeLoad(result: LoadResult): string {
  const seconds = result.elapsedMs / 1000;
  return [
    `calls ${result.calls}: ok ${result.ok}, lost ${result.lost}, mismatched ${result.mismatched}`,
    `time ${seconds.toFixed(1)} s (${
      (result.calls / seconds).toFixed(0)
    } calls/s, ${
      (result.bytesSent / seconds / 2 ** 20).toFixed(0)
    } MiB/s of payload each way)`,
    `peak RSS ${
      (result.peakRss / 2 ** 20).toFixed(0)
    } MiB, peak heap+external ${(result.peakHeap / 2 ** 20).toFixed(0)} MiB`,
    ...result.errors,
  ].join("\n");
}
