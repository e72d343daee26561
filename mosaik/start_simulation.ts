import { formatAddress } from "../channel/address.ts";
import { Channel } from "../channel/channel.ts";
import { connect } from "../channel/_connect.ts";
import type { Transport } from "../channel/transport.ts";
import {
  LOG_LEVELS,
  type LogLevel,
  parseSimulationArgs,
  type SimulationArgs,
  usage,
  UsageError,
} from "./_args.ts";
import { checkCallTimeout, mosaikChannelOptions } from "./_mosaik_channel.ts";
import { deadlineTimer } from "../channel/_channel_options.ts";
import {
  isLostConnection,
  type RunSimulatorOptions,
  serveSimulator,
} from "./run_simulator.ts";
import type { Simulator } from "./simulator.ts";

export type { LogLevel } from "./_args.ts";

/**
 * Options of {@linkcode startSimulation}; `maxFrameSize` and
 * `maxDecodedSize` as {@linkcode RunSimulatorOptions} has them: by
 * default, steps of mosaik's usual inputs up to 16 MiB of JSON.
 */
export interface StartSimulationOptions extends
  Pick<
    RunSimulatorOptions,
    "maxFrameSize" | "maxDecodedSize" | "callTimeout"
  > {
  /**
   * Ends the process with the exit status (tests pass their own).
   *
   * @default {Deno.exit}
   */
  exit?: (code: number) => void;
  /**
   * Writes one log record that `-l/--log-level` lets through.
   *
   * @default {writes `LEVEL:mosaik:message` to stderr}
   */
  log?: (level: LogLevel, message: string) => void;
  /**
   * The program name in the help text.
   *
   * @default {the file name of `Deno.mainModule`, e.g. `"example_sim.ts"`, or
   *   `"sim.ts"` where there is none (in a Worker)}
   */
  program?: string;
}

/** Exit status after `stop`. */
const OK = 0;
/** Exit status when the simulation could not run to `stop`. */
const ERROR = 1;
/** Exit status for a command line that cannot be understood. */
const USAGE = 2;

/**
 * Runs a simulator as mosaik starts it, with mosaik-api-python's command
 * line:
 *
 * - `HOST:PORT`: connect to mosaik there (mosaik's `cmd` start mode, where
 *   mosaik replaces `%(addr)s` in the command with its address);
 * - `-r HOST:PORT` (`--remote`): listen there and wait for mosaik to
 *   connect (mosaik's `connect` start mode); the address, with the port
 *   really bound when it is 0, is logged at level `info` as
 *   `INFO:mosaik:Waiting for connection from mosaik on HOST:PORT`;
 * - `-l LEVEL` (`--log-level`): `trace`, `debug` (logs every call),
 *   `info` (the default), `warning`, `error` or `critical`;
 * - `-t SECONDS` (`--timeout`): how long to wait for the connection
 *   (default 60);
 * - `-h` (`--help`).
 *
 * It serves mosaik's calls (see {@linkcode runSimulator}) and exits with
 * status 0 after mosaik's `stop`; with 1 and an `ERROR` log line naming
 * the address when it cannot connect, no connection comes in time, the
 * connection is lost before `stop`, or `simulator.stop()` throws; with 2
 * for a command line it cannot parse. Needs `--allow-net`.
 *
 * @param simulator The simulator to run.
 * @param args The command line arguments (default: `Deno.args`).
 * @param options `exit` (default `Deno.exit`), `log`, `program`, the size
 *   limits and `callTimeout`; see {@linkcode StartSimulationOptions}.
 * @returns The exit status (after calling `exit` with it, when `exit`
 *   returns).
 * @throws {never} Every failure becomes a log line and an exit status.
 *
 * @example
 * ```ts
 * import { type OutputData, Simulator, startSimulation } from "@aiomas/aiomas/mosaik";
 * import assert from "node:assert/strict";
 *
 * class Clock extends Simulator {
 *   constructor() {
 *     super({ models: { Clock: { public: true, params: [], attrs: ["t"] } } });
 *   }
 *   create(): [] {
 *     return [];
 *   }
 *   step(time: number): number {
 *     return time + 60;
 *   }
 *   getData(): OutputData {
 *     return {};
 *   }
 * }
 * // In a script: `if (import.meta.main) await startSimulation(new Clock());`
 * const logs: string[] = [];
 * const status = await startSimulation(new Clock(), ["not an address"], {
 *   exit: () => {},
 *   log: (level, message) => logs.push(`${level}: ${message}`),
 * });
 * assert.equal(status, 2);
 * assert.match(logs[0], /^error: Cannot parse "not an address" as HOST:PORT/);
 * ```
 */
export async function startSimulation(
  simulator: Simulator,
  args: readonly string[] = Deno.args,
  options: StartSimulationOptions = {},
): Promise<number> {
  const status = await simulate(simulator, args, options);
  (options.exit ?? Deno.exit)(status);
  return status;
}

async function simulate(
  simulator: Simulator,
  argv: readonly string[],
  options: StartSimulationOptions,
): Promise<number> {
  const write = options.log ?? logToStderr;
  let threshold = LOG_LEVELS.indexOf("info");
  const log = (level: LogLevel, message: string) => {
    if (LOG_LEVELS.indexOf(level) >= threshold) write(level, message);
  };
  // As runSimulator takes them: frames count whole bytes, the decode budget
  // is any positive number of cost units (Infinity for none).
  const { maxFrameSize, maxDecodedSize } = options;
  if (
    maxFrameSize !== undefined &&
    !(Number.isInteger(maxFrameSize) && maxFrameSize >= 1)
  ) {
    log(
      "error",
      `Cannot use maxFrameSize ${maxFrameSize}: expected a whole number from 1 up`,
    );
    return USAGE;
  }
  if (
    maxDecodedSize !== undefined &&
    !(typeof maxDecodedSize === "number" && maxDecodedSize > 0)
  ) {
    log(
      "error",
      `Cannot use maxDecodedSize ${maxDecodedSize}: expected a positive number of cost units`,
    );
    return USAGE;
  }
  let callTimeout: number | undefined;
  try {
    callTimeout = checkCallTimeout(options.callTimeout);
  } catch (error) {
    log("error", (error as Error).message);
    return USAGE;
  }
  let args: SimulationArgs;
  try {
    args = parseSimulationArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    log("error", `${error.message}\n\n${usage(programOf(options))}`);
    return USAGE;
  }
  if (args.help) {
    console.log(usage(programOf(options)));
    return OK;
  }
  threshold = LOG_LEVELS.indexOf(args.logLevel);
  const name = simulator.constructor.name;
  log("info", `Starting ${name} ...`);
  const channel = args.mode === "cmd"
    ? await connectToMosaik(args, log, options)
    : await waitForMosaik(args, log, options);
  if (channel === null) return ERROR;
  try {
    await serveSimulator(simulator, channel, {
      callTimeout,
      // Only at debug level: describing a call costs as much as encoding it.
      onCall: threshold <= LOG_LEVELS.indexOf("debug")
        ? (method, callArgs, kwargs) =>
          log("debug", `Calling ${method}(${describeCall(callArgs, kwargs)})`)
        : undefined,
    });
  } catch (error) {
    log(
      "error",
      isLostConnection(error)
        ? (error as Error).message
        : `${name}.stop() failed: ${describeError(error)}`,
    );
    return ERROR;
  }
  log("info", `${name} stopped`);
  return OK;
}

type Log = (level: LogLevel, message: string) => void;

type Sizes = Pick<StartSimulationOptions, "maxFrameSize" | "maxDecodedSize">;

/** A channel to mosaik over `transport`, with the sizes asked for. */
function mosaikChannel(
  transport: Transport,
  peer: string,
  { maxFrameSize, maxDecodedSize }: Sizes,
): Channel {
  return new Channel(transport, {
    ...mosaikChannelOptions(maxFrameSize, maxDecodedSize),
    peer,
  });
}

async function connectToMosaik(
  args: SimulationArgs,
  log: Log,
  sizes: Sizes,
): Promise<Channel | null> {
  const parsed = {
    transport: "tcp",
    hostname: args.hostname,
    port: args.port,
  } as const;
  const addr = formatAddress(parsed);
  try {
    const transport = await connect(parsed, { timeout: args.timeout });
    return mosaikChannel(transport, addr, sizes);
  } catch (error) {
    log(
      "error",
      `Could not connect to mosaik at ${addr}: ${describeError(error)}`,
    );
    return null;
  }
}

async function waitForMosaik(
  args: SimulationArgs,
  log: Log,
  sizes: Sizes,
): Promise<Channel | null> {
  let listener: Deno.TcpListener;
  const { hostname, port } = args;
  try {
    listener = Deno.listen({ hostname, port });
  } catch (error) {
    const where = formatAddress({ transport: "tcp", hostname, port });
    log("error", `Could not listen on ${where}: ${describeError(error)}`);
    return null;
  }
  // `[::1]:port`, as mosaik's `-r` takes it back.
  const addr = formatAddress({
    transport: "tcp",
    hostname: listener.addr.hostname,
    port: listener.addr.port,
  });
  log("info", `Waiting for connection from mosaik on ${addr}`);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = deadlineTimer(args.timeout, () => resolve("late"));
  });
  const accepted = listener.accept().then(
    (conn) => ({ conn }),
    (error: unknown) => ({ conn: null, error }),
  );
  const outcome = await Promise.race([accepted, late]);
  clearTimeout(timer);
  // One connection only, as mosaik-api-python.
  listener.close();
  const { conn, error } = await accepted as {
    conn: Deno.Conn | null;
    error?: unknown;
  };
  if (conn === null) {
    log(
      "error",
      outcome === "late"
        ? `No connection from mosaik on ${addr} within ${args.timeout / 1000} s`
        : `Listening on ${addr} failed: ${describeError(error)}`,
    );
    return null;
  }
  if (outcome === "late") {
    // It came just as the time was up: too late all the same.
    conn.close();
    log(
      "error",
      `No connection from mosaik on ${addr} within ${args.timeout / 1000} s`,
    );
    return null;
  }
  const peer = conn.remoteAddr as Deno.NetAddr;
  return mosaikChannel(
    transportOf(conn),
    `${peer.hostname}:${peer.port}`,
    sizes,
  );
}

function transportOf(conn: Deno.Conn): Transport {
  return {
    get readable() {
      return conn.readable;
    },
    get writable() {
      return conn.writable;
    },
    read: conn.read.bind(conn),
    write: conn.write.bind(conn),
    close: () => {
      try {
        conn.close();
      } catch {
        // Closed already.
      }
    },
  };
}

function logToStderr(level: LogLevel, message: string): void {
  console.error(`${level.toUpperCase()}:mosaik:${message}`);
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function describeCall(
  args: unknown[],
  kwargs: Record<string, unknown>,
): string {
  const text = [
    ...args.map(show),
    ...Object.entries(kwargs).map(([k, v]) => `${k}=${show(v)}`),
  ].join(", ");
  return text.length > 500 ? `${text.slice(0, 500)}...` : text;
}

function show(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The running script's file name, as a user typed it to run it. */
/**
 * The program name of the help text: asked for only there, as a Worker
 * has no `Deno.mainModule` (its `new URL` threw at every start).
 */
function programOf(options: StartSimulationOptions): string {
  if (options.program !== undefined) return options.program;
  try {
    const path = new URL(Deno.mainModule).pathname;
    return decodeURIComponent(path.slice(path.lastIndexOf("/") + 1)) ||
      "sim.ts";
  } catch {
    return "sim.ts";
  }
}
