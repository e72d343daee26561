// The wire fuzzer of the reliability suite: a seeded PRNG, a generator of
// hostile inputs for each codec, and a driver that throws them at a real RPC
// server over many short TCP connections while a well-behaved client keeps
// calling it on its own connection.
//
// Every input is derived from (seed, codec, index) alone, so any input the
// driver reports can be rebuilt with `generateInput(codec, seed, index)`.
//
// The driver does not trust the generator's intent: it parses the bytes of
// each input itself (frames, then a decode with the same codec class) and
// derives what the server must do: answer every request it was sent (each
// id exactly once), or close the connection when something was wrong, or
// wait for more bytes when the input ends inside a frame (then the driver
// sends EOF and the server must close).
//
// The parts live in the _fuzz_*.ts modules; this one runs them (runFuzz) and
// re-exports what the fuzz program and the tests use.

import { CODEC_NAMES } from "./_fuzz_codecs.ts";
import { runBatch } from "./_fuzz_batch.ts";
import { KNOWN_BUG_FAMILIES } from "./_fuzz_families.ts";
import {
  describeError,
  type Finding,
  type FuzzOptions,
  type FuzzStats,
  MAX_FINDINGS,
  newStats,
} from "./_fuzz_stats.ts";

export { mixSeed, randomValue, Rng } from "./_fuzz_random.ts";
export {
  CODEC_CLASSES,
  CODEC_NAMES,
  type CodecName,
  frame,
  hex,
  MAX_DEPTH,
  MAX_FRAME_SIZE,
  oracleCodec,
  RefMarker,
} from "./_fuzz_codecs.ts";
export {
  FAMILY_NAMES,
  type FuzzInput,
  generateInput,
  KNOWN_BUG_FAMILIES,
} from "./_fuzz_families.ts";
export { type Plan, plan, sameValue } from "./_fuzz_oracle.ts";
export {
  FuzzService,
  type PeerEvent,
  RawPeer,
  writeAll,
} from "./_fuzz_endpoints.ts";
export {
  clean,
  crashes,
  type Finding,
  type FuzzOptions,
  type FuzzStats,
  summary,
} from "./_fuzz_stats.ts";

// ---------------------------------------------------------------------------
// The driver

/**
 * Runs the fuzzer: per codec and batch, a fresh RPC server, a well-behaved
 * client calling `add` throughout, and `concurrency` raw connections that
 * send the inputs. Returns the counts; never throws for what it finds.
 */
export async function runFuzz(options: FuzzOptions): Promise<FuzzStats> {
  const stats = newStats();
  const started = performance.now();
  const codecs = options.codecs ?? CODEC_NAMES;
  const exclude = options.exclude ?? KNOWN_BUG_FAMILIES;
  const batchSize = options.batchSize ?? 20000;
  const record = (finding: Finding) => {
    if (stats.findings.length < MAX_FINDINGS) stats.findings.push(finding);
  };

  const onUnhandled = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    stats.unhandled++;
    record({
      kind: "unhandled rejection",
      codec: "?",
      index: -1,
      family: "?",
      detail: describeError(event.reason),
      bytes: "",
    });
  };
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    stats.uncaught++;
    record({
      kind: "uncaught error",
      codec: "?",
      index: -1,
      family: "?",
      detail: describeError(event.error ?? event.message),
      bytes: "",
    });
  };
  const consoleError = console.error;
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  globalThis.addEventListener("error", onError);
  console.error = (...args: unknown[]) => {
    stats.logged++;
    record({
      kind: "console.error",
      codec: "?",
      index: -1,
      family: "?",
      detail: args.map(describeError).join(" "),
      bytes: "",
    });
  };
  try {
    for (const codec of codecs) {
      for (let first = 0; first < options.inputs; first += batchSize) {
        await runBatch(
          codec,
          first,
          Math.min(options.inputs, first + batchSize),
          options,
          exclude,
          stats,
          record,
        );
      }
    }
  } finally {
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
    globalThis.removeEventListener("error", onError);
    console.error = consoleError;
  }
  stats.elapsedMs = performance.now() - started;
  return stats;
}
