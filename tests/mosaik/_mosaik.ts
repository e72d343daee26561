// A simulator started in this process with startSimulation (cmd mode), and
// a raw mosaik side for it: frames written and read by hand.

import assert from "node:assert/strict";
import { textFrame } from "../_frames.ts";
import {
  type LogLevel,
  type Simulator,
  startSimulation,
  type StartSimulationOptions,
} from "../../mosaik/mod.ts";
import { FrameReader, writeAll } from "./_driver.ts";

export class InProcess implements AsyncDisposable {
  readonly logs: string[] = [];
  readonly exits: number[] = [];
  readonly running: Promise<number>;
  readonly conn: Deno.Conn;
  #reader: FrameReader;
  #nextId = 0;

  private constructor(
    conn: Deno.Conn,
    running: Promise<number>,
    logs: string[],
    exits: number[],
  ) {
    this.conn = conn;
    this.running = running;
    this.logs = logs;
    this.exits = exits;
    this.#reader = new FrameReader(conn);
  }

  /** Starts `sim` with `HOST:PORT` of a listener here, plus `args` and `options`. */
  static async start(
    sim: Simulator,
    args: string[] = [],
    options: StartSimulationOptions = {},
  ): Promise<InProcess> {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const logs: string[] = [];
    const exits: number[] = [];
    const running = startSimulation(
      sim,
      [`127.0.0.1:${listener.addr.port}`, ...args],
      {
        ...options,
        exit: (code) => exits.push(code),
        log: (level: LogLevel, message) => logs.push(`${level}: ${message}`),
      },
    );
    const conn = await Promise.race([
      listener.accept(),
      running.then((code) => {
        throw new Error(`exited with ${code} before connecting: ${logs}`);
      }),
    ]);
    return new InProcess(conn, running, logs, exits);
  }

  /** Sends a frame of mosaik's. */
  async send(message: unknown): Promise<void> {
    await writeAll(this.conn, textFrame(JSON.stringify(message)));
  }

  /** Sends a request of mosaik's; returns its id. */
  async request(
    method: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
  ): Promise<number> {
    const id = this.#nextId++;
    await this.send([0, id, [method, args, kwargs]]);
    return id;
  }

  /**
   * Sends a request whose content is JSON text as Python writes it (with
   * `NaN`, `Infinity`); returns its id.
   */
  async requestText(content: string): Promise<number> {
    const id = this.#nextId++;
    await writeAll(this.conn, textFrame(`[0, ${id}, ${content}]`));
    return id;
  }

  /** The next frame of the simulator, decoded; null at its EOF. */
  async next(): Promise<unknown> {
    const text = await this.nextText();
    return text === null ? null : JSON.parse(text);
  }

  /** The next frame of the simulator as its JSON text; null at its EOF. */
  async nextText(): Promise<string | null> {
    const payload = await this.#reader.next();
    return payload === null ? null : new TextDecoder().decode(payload);
  }

  /** Calls and returns the reply's frame. */
  async call(
    method: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
  ): Promise<unknown> {
    const id = await this.request(method, args, kwargs);
    const reply = await this.next();
    assert.ok(Array.isArray(reply), `no reply to ${method}`);
    assert.equal(reply[1], id);
    return reply;
  }

  /** init + the ExampleSim's usual setup. */
  async init(sid = "Sim-0"): Promise<unknown> {
    return await this.call("init", [sid], { time_resolution: 1.0 });
  }

  /** Sends stop; the simulator must close without replying and exit 0. */
  async stop(): Promise<number> {
    await this.request("stop");
    assert.equal(await this.next(), null);
    this.close();
    return await this.running;
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.running;
  }
}

/** Asserts a mosaik-format failure frame: [2, id, [type, message, ...lines]]. */
export function assertFailure(
  frame: unknown,
  type: string,
  message: string | RegExp,
): void {
  assert.ok(Array.isArray(frame) && frame[0] === 2, JSON.stringify(frame));
  const content = frame[2];
  assert.ok(Array.isArray(content), `not mosaik's list form: ${frame}`);
  assert.equal(content[0], type, JSON.stringify(content));
  if (typeof message === "string") assert.equal(content[1], message);
  else assert.match(content[1], message);
  assert.ok(content.length >= 3, "no traceback lines");
  for (const line of content.slice(2)) {
    assert.ok(typeof line === "string" && line.endsWith("\n"), line);
  }
  assert.equal(content.at(-1), `${type}: ${content[1]}\n`);
}
