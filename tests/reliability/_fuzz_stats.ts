// What a fuzz run is given and what it reports: options, findings, counts,
// their verdict (crashes, clean) and summary, and message helpers.

import type { CodecName } from "./_fuzz_codecs.ts";

/** Options of `runFuzz` (_fuzz.ts). */
export interface FuzzOptions {
  seed: number;
  /** Inputs per codec. */
  inputs: number;
  codecs?: readonly CodecName[];
  /** Raw connections at once. */
  concurrency?: number;
  /** Inputs per raw connection: 1 to this many. */
  maxInputsPerConnection?: number;
  /** How long the server may take to answer or close, per input (ms). */
  deadlineMs?: number;
  /** Families to leave out. @default {KNOWN_BUG_FAMILIES} */
  exclude?: readonly string[];
  /** A fresh server (new port) after this many inputs. */
  batchSize?: number;
  /** Well-behaved client call loops per server. */
  wellBehavedLoops?: number;
  /** Called every `progressEvery` inputs. */
  onProgress?: (stats: FuzzStats) => void;
  progressEvery?: number;
}

/** An input that went wrong, for the report. */
export interface Finding {
  kind: string;
  codec: CodecName | "?";
  index: number;
  family: string;
  detail: string;
  bytes: string;
}

/** What happened. */
export interface FuzzStats {
  inputs: number;
  connections: number;
  /** Inputs after which the server closed the connection (as it must). */
  serverCloses: number;
  /** Inputs that ended inside a frame, followed by EOF. */
  incompleteInputs: number;
  /** Replies received on fuzz connections. */
  replies: number;
  /** Uncaught errors ("error" events). */
  uncaught: number;
  /** Unhandled promise rejections. */
  unhandled: number;
  /** console.error calls (the server logs failures there). */
  logged: number;
  /** The server neither answered nor closed within the deadline. */
  hangs: number;
  /** The server closed a connection that had only valid requests. */
  unexpectedCloses: number;
  /** Frames the server sent that are not replies to our requests. */
  badFrames: number;
  /** Calls from the server back through references the input sent. */
  callbacks: number;
  /** Replies of the wrong type or with the wrong result. */
  wrongReplies: number;
  /** Server-side connection outcomes. */
  server: {
    accepted: number;
    clean: number;
    protocolErrors: number;
    /** Closed with another error: a failure. */
    other: number;
  };
  /** Close reasons on the server side, message shapes → count. */
  reasons: Record<string, number>;
  wellBehaved: { calls: number; ok: number; lost: number; wrong: number };
  byFamily: Record<string, number>;
  findings: Finding[];
  elapsedMs: number;
}

/** Crashes: uncaught errors, unhandled rejections, console.error calls. */
export function crashes(stats: FuzzStats): number {
  return stats.uncaught + stats.unhandled + stats.logged;
}

/** Whether the run found nothing wrong. */
export function clean(stats: FuzzStats): boolean {
  return crashes(stats) === 0 && stats.hangs === 0 &&
    stats.unexpectedCloses === 0 && stats.badFrames === 0 &&
    stats.wrongReplies === 0 && stats.server.other === 0 &&
    stats.wellBehaved.lost === 0 && stats.wellBehaved.wrong === 0 &&
    stats.wellBehaved.ok === stats.wellBehaved.calls &&
    stats.server.accepted === stats.server.clean +
        stats.server.protocolErrors + stats.server.other;
}

export function newStats(): FuzzStats {
  return {
    inputs: 0,
    connections: 0,
    serverCloses: 0,
    incompleteInputs: 0,
    replies: 0,
    uncaught: 0,
    unhandled: 0,
    logged: 0,
    hangs: 0,
    unexpectedCloses: 0,
    badFrames: 0,
    callbacks: 0,
    wrongReplies: 0,
    server: { accepted: 0, clean: 0, protocolErrors: 0, other: 0 },
    reasons: {},
    wellBehaved: { calls: 0, ok: 0, lost: 0, wrong: 0 },
    byFamily: {},
    findings: [],
    elapsedMs: 0,
  };
}

export const MAX_FINDINGS = 50;

export function describeError(error: unknown): string {
  return error instanceof Error
    ? `${error.name}: ${error.message}`.slice(0, 300)
    : String(error).slice(0, 300);
}

/** A message shape: numbers and quoted parts replaced, for counting reasons. */
export function shape(message: string): string {
  return message
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\d+(\.\d+)?/g, "N")
    .replace(/\(at byte N\)/g, "")
    .slice(0, 140);
}

/** A one-paragraph summary of the counts. */
export function summary(stats: FuzzStats): string {
  const rate = stats.inputs / (stats.elapsedMs / 1000);
  return [
    `inputs ${stats.inputs} in ${(stats.elapsedMs / 1000).toFixed(1)} s (${
      rate.toFixed(0)
    }/s) over ${stats.connections} connections`,
    `server closes ${stats.serverCloses}, incomplete+EOF ${stats.incompleteInputs}, replies ${stats.replies}, calls back ${stats.callbacks}`,
    `crashes ${
      crashes(stats)
    } (uncaught ${stats.uncaught}, unhandled ${stats.unhandled}, logged ${stats.logged}), hangs ${stats.hangs}, unexpected closes ${stats.unexpectedCloses}, bad frames ${stats.badFrames}, wrong replies ${stats.wrongReplies}`,
    `server side: accepted ${stats.server.accepted}, clean ${stats.server.clean}, ProtocolError ${stats.server.protocolErrors}, other ${stats.server.other}`,
    `well-behaved: ${stats.wellBehaved.ok}/${stats.wellBehaved.calls} ok, lost ${stats.wellBehaved.lost}, wrong ${stats.wellBehaved.wrong}`,
  ].join("\n");
}
