// Starts bench/_peer.ts in a process of its own and talks to it over its
// standard input and output: one JSON line with its ports first, then one
// line of CPU time and I/O counts per "cpu" line asked. Also the telemetry
// settings both ends of the telemetry rows use.
import {
  BasicTracerProvider,
  type SpanProcessor,
} from "npm:@opentelemetry/sdk-trace-base@^2.12.1";
import {
  MeterProvider,
  MetricReader,
} from "npm:@opentelemetry/sdk-metrics@^2.12.1";
import type { RpcTelemetryOptions } from "../rpc/mod.ts";
import type { PeerStats } from "./_measure.ts";

/** What the peer serves, by port (see `_peer.ts`). */
export interface PeerInfo {
  raw: number;
  /** Raw echo of frames each copied into fresh memory first. */
  rawOwned: number;
  minimalJson: number;
  minimalMsgpack: number;
  minimalRequests: number;
  channelJson: number;
  channelMsgpack: number;
  channelMsgpackEach: number;
  rpcMsgpack: number;
  /** The same with `telemetry: false`. */
  rpcMsgpackOff: number;
  /** The same traced: {@linkcode tracedTelemetry}. */
  rpcMsgpackTraced: number;
  /** The same with metrics: {@linkcode meteredTelemetry}. */
  rpcMsgpackMetered: number;
  bulkMsgpack: number;
  bulkBlosc: number;
  agent: string;
  pid: number;
}

/** A running peer process. */
export interface Peer {
  info: PeerInfo;
  /** The peer's user + system CPU time so far (µs), and its socket I/O counts. */
  stats(): Promise<PeerStats>;
  stop(): Promise<void>;
}

/** Starts each reply the peer writes to its stdout (`_peer.ts`). */
export const REPLY_MARK = "\x1e";

/** Starts the peer; `--profile=FILE` and `--count-io` are passed on. */
export async function startPeer(
  options: { profilePath?: string; countIo?: boolean } = {},
): Promise<Peer> {
  const args = [
    "run",
    "--allow-all",
    new URL("_peer.ts", import.meta.url).pathname,
  ];
  if (options.profilePath !== undefined) {
    args.push(`--profile=${options.profilePath}`);
  }
  if (options.countIo) args.push("--count-io");
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stdin = child.stdin.getWriter();
  const output = child.stdout.pipeThrough(new TextDecoderStream());
  // Replies are marked lines, each written at once; the rest of what the
  // peer prints (V8's traces under `DENO_V8_FLAGS=--trace-gc`, which may
  // come in pieces around a reply) is passed on to stderr. Stdout is read
  // all the time, so that such output never blocks the peer.
  const replies: string[] = [];
  let waiting = null as PromiseWithResolvers<void> | null;
  let exited = null as Error | null;
  const pump = (async () => {
    let text = "";
    for await (const chunk of output) {
      text += chunk;
      for (;;) {
        const at = text.indexOf(REPLY_MARK);
        const end = at < 0 ? -1 : text.indexOf("\n", at);
        if (end < 0) break;
        replies.push(text.slice(at + REPLY_MARK.length, end));
        text = text.slice(0, at) + text.slice(end + 1);
      }
      const mark = text.indexOf(REPLY_MARK);
      const lines = text.lastIndexOf("\n", mark < 0 ? text.length : mark);
      if (lines >= 0) {
        console.error(text.slice(0, lines));
        text = text.slice(lines + 1);
      }
      waiting?.resolve();
    }
    if (text !== "") console.error(text);
    exited = new Error("the peer exited");
    waiting?.resolve();
  })();
  const nextLine = async (): Promise<string> => {
    for (;;) {
      const line = replies.shift();
      if (line !== undefined) return line;
      if (exited !== null) throw exited;
      waiting = Promise.withResolvers<void>();
      await waiting.promise;
      waiting = null;
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
  let stopping: Promise<void> | undefined;
  return {
    info,
    async stats() {
      await stdin.write(encoder.encode("cpu\n"));
      return JSON.parse(await nextLine()) as PeerStats;
    },
    stop() {
      stopping ??= (async () => {
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
        await pump;
        // Pass on any reply nobody asked for (none is expected).
        for (const line of replies) console.error(`[peer] ${line}`);
        if (!status.success) console.error(`peer exited with ${status.code}`);
      })();
      return stopping;
    },
  };
}

/** Drops every span: tracing costs what making spans costs, no export. */
const dropSpans: SpanProcessor = {
  onStart() {},
  onEnd() {},
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

/**
 * Tracing on, for the `rpcPipeTraced` row: the SDK's tracer provider
 * (always sampled) whose spans are dropped when they end.
 */
export function tracedTelemetry(): RpcTelemetryOptions {
  return {
    tracerProvider: new BasicTracerProvider({ spanProcessors: [dropSpans] }),
  };
}

/** A reader that is never asked: what is recorded stays aggregated. */
class UnreadReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/**
 * Metrics on, for the `rpcPipeMetered` row: the SDK's meter provider with
 * a reader, as between two exports of a periodic one.
 */
export function meteredTelemetry(): RpcTelemetryOptions {
  return {
    meterProvider: new MeterProvider({ readers: [new UnreadReader()] }),
  };
}
