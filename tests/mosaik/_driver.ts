// A mosaik-like driver for tests: it replays the frames mosaik 3.3.3 sent in
// tests/fixtures/mosaik/capture.txt to a simulator, over raw frames
// (independent of the channel code under test), and checks every frame the
// simulator sends against the capture.
//
// As a script it replays one section against examples/mosaik/example_sim.ts
// and prints the frames:
//   deno run --allow-net --allow-read --allow-run tests/mosaik/_driver.ts B
//   deno run --allow-net --allow-read --allow-run tests/mosaik/_driver.ts C --connect

import assert from "node:assert/strict";
import { textFrame } from "../_frames.ts";

/** One line of the capture: a frame's JSON text, or the end of a direction. */
export interface CapturedFrame {
  from: "mosaik" | "sim";
  /** The JSON text as captured; null for EOF. */
  json: string | null;
}

/** The capture's sections: A (probe, cmd), B (demo_2, cmd), C (connect). */
export type Section = "A" | "B" | "C";

const CAPTURE = new URL("../fixtures/mosaik/capture.txt", import.meta.url);
const LINE = /^\s*[\d.]+ (mosaik->sim|sim->mosaik) (?:len=\d+ (.*)|EOF)\s*$/;

/** Reads the capture's three sections. */
export async function loadCapture(): Promise<Record<Section, CapturedFrame[]>> {
  const text = await Deno.readTextFile(CAPTURE);
  const sections: Record<string, CapturedFrame[]> = {};
  let current: CapturedFrame[] | null = null;
  for (const line of text.split("\n")) {
    const header = /^## ([ABC])\. /.exec(line);
    if (header !== null) {
      current = sections[header[1]] = [];
      continue;
    }
    const match = LINE.exec(line);
    if (match === null || current === null) continue;
    current.push({
      from: match[1] === "mosaik->sim" ? "mosaik" : "sim",
      json: match[2] ?? null,
    });
  }
  assert.deepEqual(Object.keys(sections), ["A", "B", "C"]);
  return sections as Record<Section, CapturedFrame[]>;
}

/** Reads length-prefixed frames from a connection. */
export class FrameReader {
  #conn: Deno.Conn;
  #buffer = new Uint8Array(0);

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** The next frame's payload, or null at a clean end of the stream. */
  async next(): Promise<Uint8Array | null> {
    if (!(await this.#fill(4))) {
      if (this.#buffer.length === 0) return null;
      throw new Error(`Stream ended inside a frame header`);
    }
    const length = new DataView(this.#buffer.buffer, this.#buffer.byteOffset)
      .getUint32(0);
    if (!(await this.#fill(4 + length))) {
      throw new Error(`Stream ended inside a frame of ${length} bytes`);
    }
    const payload = this.#buffer.slice(4, 4 + length);
    this.#buffer = this.#buffer.slice(4 + length);
    return payload;
  }

  async #fill(size: number): Promise<boolean> {
    while (this.#buffer.length < size) {
      const chunk = new Uint8Array(64 * 1024);
      const n = await this.#conn.read(chunk);
      if (n === null) return false;
      const joined = new Uint8Array(this.#buffer.length + n);
      joined.set(this.#buffer);
      joined.set(chunk.subarray(0, n), this.#buffer.length);
      this.#buffer = joined;
    }
    return true;
  }
}

/** What a replay saw: one line per frame, for transcripts. */
export interface ReplayResult {
  /** `"  mosaik → sim …"` and `"✓ sim → mosaik …"` lines. */
  lines: string[];
  /** How many frames of the simulator were checked. */
  checked: number;
}

/**
 * Plays mosaik's side of `frames` on `conn`: sends mosaik's frames as
 * captured, and checks each frame the simulator sends against the next one
 * of the capture (by JSON value; failure frames by type, id, exception type
 * and message, and that the traceback lines are strings ending in "\n").
 * A captured simulator EOF must be an EOF: a reply to `stop` fails it.
 */
export async function replay(
  conn: Deno.Conn,
  frames: readonly CapturedFrame[],
): Promise<ReplayResult> {
  const reader = new FrameReader(conn);
  const lines: string[] = [];
  let checked = 0;
  for (const [index, frame] of frames.entries()) {
    const where = `capture frame ${index + 1} of ${frames.length}`;
    if (frame.from === "mosaik") {
      if (frame.json === null) {
        conn.close();
        lines.push("  mosaik → sim EOF");
        continue;
      }
      await writeAll(conn, textFrame(frame.json));
      lines.push(`  mosaik → sim ${frame.json}`);
      continue;
    }
    const payload = await reader.next();
    if (frame.json === null) {
      assert.equal(
        payload === null ? null : new TextDecoder().decode(payload),
        null,
        `${where}: expected the simulator to close the connection`,
      );
      lines.push("✓ sim → mosaik EOF");
      checked++;
      continue;
    }
    assert.ok(
      payload !== null,
      `${where}: connection closed, expected ${frame.json}`,
    );
    const text = new TextDecoder().decode(payload);
    checkFrame(JSON.parse(text), JSON.parse(frame.json), `${where}`);
    lines.push(`✓ sim → mosaik ${text}`);
    checked++;
  }
  return { lines, checked };
}

/** Compares a frame of the simulator with the captured one. */
export function checkFrame(
  got: unknown,
  expected: unknown,
  where: string,
): void {
  const message = `${where}: got ${JSON.stringify(got)}, expected ${
    JSON.stringify(expected)
  }`;
  if (Array.isArray(expected) && expected[0] === 2) {
    assert.ok(Array.isArray(got) && got.length === 3, message);
    assert.deepEqual(got.slice(0, 2), expected.slice(0, 2), message);
    const content = got[2];
    assert.ok(Array.isArray(content) && content.length >= 3, message);
    assert.deepEqual(content.slice(0, 2), expected[2].slice(0, 2), message);
    for (const line of content.slice(2)) {
      assert.ok(
        typeof line === "string" && line.endsWith("\n"),
        `${message}: traceback line ${JSON.stringify(line)}`,
      );
    }
    return;
  }
  assert.deepStrictEqual(got, expected, message);
}

/** Writes all of `bytes`. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  for (let at = 0; at < bytes.length;) {
    at += await conn.write(bytes.subarray(at));
  }
}

/** The example simulator, started as mosaik would. */
export const EXAMPLE_SIM = new URL(
  "../../examples/mosaik/example_sim.ts",
  import.meta.url,
).pathname;

/** A simulator process with its stderr lines. */
export class SimProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  /** Every stderr line so far. */
  readonly stderr: string[] = [];
  #lineWaiters: (() => void)[] = [];
  #drained: Promise<void>;

  constructor(args: string[]) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", EXAMPLE_SIM, ...args],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.#drained = this.#read();
  }

  async #read(): Promise<void> {
    const lines = this.child.stderr.pipeThrough(new TextDecoderStream());
    let rest = "";
    for await (const chunk of lines) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      this.stderr.push(...parts);
      for (const wake of this.#lineWaiters.splice(0)) wake();
    }
    if (rest !== "") this.stderr.push(rest);
    for (const wake of this.#lineWaiters.splice(0)) wake();
  }

  /** Waits for a stderr line matching `pattern`; null if stderr ends first. */
  async waitForLine(pattern: RegExp): Promise<RegExpExecArray | null> {
    for (let seen = 0;;) {
      for (; seen < this.stderr.length; seen++) {
        const match = pattern.exec(this.stderr[seen]);
        if (match !== null) return match;
      }
      const more = new Promise<void>((resolve) =>
        this.#lineWaiters.push(resolve)
      );
      const ended = await Promise.race([
        more.then(() => false),
        this.#drained.then(() => true),
      ]);
      if (ended && seen === this.stderr.length) return null;
    }
  }

  /** Waits for the exit status (and the end of stderr). */
  async status(): Promise<Deno.CommandStatus> {
    const status = await this.child.status;
    await this.#drained;
    return status;
  }

  /** Kills the process if it still runs, and waits for it. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Exited already.
    }
    await this.status();
  }
}

/** Replays a section against the example simulator in a subprocess. */
export async function replayExampleSim(
  frames: readonly CapturedFrame[],
  mode: "cmd" | "connect",
): Promise<
  { result: ReplayResult; status: Deno.CommandStatus; stderr: string[] }
> {
  if (mode === "cmd") {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    await using sim = new SimProcess([`127.0.0.1:${listener.addr.port}`]);
    const conn = await Promise.race([
      listener.accept(),
      sim.status().then((status) => {
        throw new Error(
          `The simulator exited (${status.code}) before connecting:\n${
            sim.stderr.join("\n")
          }`,
        );
      }),
    ]);
    const result = await withWatchdog(conn, () => replay(conn, frames));
    return { result, status: await sim.status(), stderr: sim.stderr };
  }
  await using sim = new SimProcess(["-r", "127.0.0.1:0"]);
  const match = await sim.waitForLine(
    /Waiting for connection from mosaik on 127\.0\.0\.1:(\d+)$/,
  );
  assert.ok(
    match !== null,
    `no listening address in:\n${sim.stderr.join("\n")}`,
  );
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: Number(match[1]),
  });
  const result = await withWatchdog(conn, () => replay(conn, frames));
  return { result, status: await sim.status(), stderr: sim.stderr };
}

/**
 * Runs `fn`, closing `conn` if it takes over 30 s (a hung simulator fails
 * the test instead of hanging it); closes `conn` afterwards if still open.
 */
export async function withWatchdog<T>(
  conn: Deno.Conn,
  fn: () => Promise<T>,
): Promise<T> {
  const timer = setTimeout(() => closeQuietly(conn), 30_000);
  try {
    return await fn();
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}

if (import.meta.main) {
  const section = (Deno.args[0] ?? "B") as Section;
  if (section !== "B" && section !== "C") {
    console.error(
      "Sections B and C replay against example_sim.ts; A needs the probe simulator (tests/mosaik/replay_test.ts)",
    );
    Deno.exit(2);
  }
  const mode = Deno.args.includes("--connect") ? "connect" : "cmd";
  const capture = await loadCapture();
  const { result, status, stderr } = await replayExampleSim(
    capture[section],
    mode,
  );
  for (const line of stderr) console.log(`[sim stderr] ${line}`);
  for (const line of result.lines) {
    console.log(line.length > 150 ? `${line.slice(0, 147)}...` : line);
  }
  console.log(
    `section ${section} (${mode} mode): ${result.checked} frames of the simulator match the capture; exit status ${status.code}`,
  );
}
