// A CPU profiler for the benchmark processes: V8's sampling profiler through
// node:inspector (Deno has no --cpu-prof), and a summary of where the time
// went, by function and by file.
import { Session } from "node:inspector/promises";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

/** A V8 CPU profile (`.cpuprofile`, readable by Chrome DevTools). */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A running profiler; `stop` returns the profile. */
export interface Profiler {
  stop(): Promise<CpuProfile>;
}

/** Starts sampling every `intervalUs` microseconds. */
export async function startProfiler(intervalUs = 100): Promise<Profiler> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: intervalUs });
  await session.post("Profiler.start");
  return {
    async stop() {
      const { profile } = await session.post("Profiler.stop") as {
        profile: CpuProfile;
      };
      await session.post("Profiler.disable");
      session.disconnect();
      return profile;
    },
  };
}

function shortUrl(url: string): string {
  if (url === "") return "";
  const at = url.indexOf("/work/main/");
  if (at >= 0) return url.slice(at + "/work/main/".length);
  return url.replace(/^.*\/(ext|node_modules)\//, "$1/");
}

/**
 * Formats the `top` functions by self time, and self time per file, as
 * text; the percentages are of all samples (idle included, shown apart).
 */
export function summarize(profile: CpuProfile, top = 30): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    total += us;
    if (frame.functionName === "(idle)") idle += us;
    const file = shortUrl(frame.url) || frame.functionName;
    const key = `${frame.functionName || "(anonymous)"}  ${file}${
      frame.url ? `:${frame.lineNumber + 1}` : ""
    }`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    byFile.set(file, (byFile.get(file) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us: number) => `${(us / busy * 100).toFixed(1).padStart(5)} %`;
  const lines = [
    `${(total / 1000).toFixed(0)} ms sampled, ${
      (idle / 1000).toFixed(0)
    } ms idle; percentages are of the ${(busy / 1000).toFixed(0)} ms busy`,
    "",
    "self time by function:",
  ];
  const sorted = (map: Map<string, number>) =>
    [...map].filter(([key]) => !key.startsWith("(idle)"))
      .sort((a, b) => b[1] - a[1]);
  for (const [key, us] of sorted(byFunction).slice(0, top)) {
    lines.push(`  ${pct(us)}  ${key}`);
  }
  lines.push("", "self time by file:");
  for (const [file, us] of sorted(byFile).slice(0, top)) {
    lines.push(`  ${pct(us)}  ${file}`);
  }
  return lines.join("\n");
}
