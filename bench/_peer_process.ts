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
  const output = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const nextLine = async (): Promise<string> => {
    for (;;) {
      const newline = text.indexOf("\n");
      if (newline >= 0) {
        const line = text.slice(0, newline);
        text = text.slice(newline + 1);
        return line;
      }
      const { value, done } = await output.read();
      if (done) throw new Error(`the peer exited (it printed: ${text})`);
      text += value;
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
        // Pass on anything else it printed (nothing is expected).
        for (;;) {
          const { value, done } = await output.read();
          if (done) break;
          text += value;
        }
        if (text.trim() !== "") console.error(`[peer] ${text.trim()}`);
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
