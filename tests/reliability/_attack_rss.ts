// Memory of the server under attack, from /proc/<pid>/status. Deno asks
// for --allow-all to read another process's /proc files, so a small bash
// loop reads them (builtins only, one `sleep` per sample) and prints
// "<VmRSS kB> <VmHWM kB>" lines.

/** One sample in bytes. */
export interface MemorySample {
  rss: number;
  hwm: number;
}

const LOOP = `
while [ -r "/proc/$1/status" ]; do
  rss=0 hwm=0
  while read -r key value _; do
    case $key in VmRSS:) rss=$value ;; VmHWM:) hwm=$value ;; esac
  done < "/proc/$1/status" 2>/dev/null
  echo "$rss $hwm"
  [ "$2" = once ] && exit 0
  sleep "$2"
done`;

function parse(line: string): MemorySample {
  const [rss, hwm] = line.trim().split(" ").map(Number);
  return { rss: (rss || 0) * 1024, hwm: (hwm || 0) * 1024 };
}

/** The memory of `pid` now; zeros once it is gone. */
export async function memoryOnce(pid: number): Promise<MemorySample> {
  const { stdout } = await new Deno.Command("bash", {
    args: ["-c", LOOP, "bash", String(pid), "once"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const line = new TextDecoder().decode(stdout).trim();
  return line ? parse(line) : { rss: 0, hwm: 0 };
}

/**
 * Samples `pid` every `everyMs` until it is gone or `signal` aborts,
 * calling `onSample` with each sample.
 */
export async function sampleMemory(
  pid: number,
  everyMs: number,
  signal: AbortSignal,
  onSample: (sample: MemorySample) => void,
): Promise<void> {
  const child = new Deno.Command("bash", {
    args: ["-c", LOOP, "bash", String(pid), String(everyMs / 1000)],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const stop = () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  };
  signal.addEventListener("abort", stop, { once: true });
  try {
    let pending = "";
    for await (
      const chunk of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      pending += chunk;
      let newline;
      while ((newline = pending.indexOf("\n")) >= 0) {
        onSample(parse(pending.slice(0, newline)));
        pending = pending.slice(newline + 1);
      }
    }
  } finally {
    signal.removeEventListener("abort", stop);
    stop();
    await child.status;
  }
}
