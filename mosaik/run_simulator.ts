import { Channel } from "../channel/channel.ts";
import type { Request } from "../channel/request.ts";
import { ConnectionClosedError } from "../errors.ts";
import type { Transport } from "../channel/transport.ts";
import { callSimulator, checkCall, checkMeta } from "./_api_calls.ts";
import { checkResult } from "./_results.ts";
import { checkCallTimeout, mosaikChannelOptions } from "./_mosaik_channel.ts";
import { RemoteMosaikProxy } from "./_remote_mosaik_proxy.ts";
import { attachMosaik, type Simulator } from "./simulator.ts";
import type { Meta } from "./types.ts";

/** Options of {@linkcode runSimulator}. */
export interface RunSimulatorOptions {
  /** Called with every call mosaik makes, before it runs (for debug logs). */
  onCall?: (
    method: string,
    args: unknown[],
    kwargs: Record<string, unknown>,
  ) => void;
  /**
   * Milliseconds each call of the simulator's `this.mosaik` may wait for
   * mosaik's answer; it then rejects with a `TimeoutError` (a step that
   * awaits it fails, and mosaik gets the failure). By default it waits as
   * long as the connection lasts: mosaik answers at once, but a controller
   * that does not, or that sends more requests before its answer than the
   * connection's limits hold (see docs/guarantees.md), stalls the step.
   *
   * @default {undefined} (no limit)
   */
  callTimeout?: number;
  /**
   * The largest message, in bytes of its frame, sent to or accepted from
   * mosaik (`ChannelOptions.maxFrameSize`). mosaik has no such limit: raise
   * it for steps whose inputs or data are larger; `maxDecodedSize` follows
   * it unless given.
   *
   * @default {16777216} (16 MiB)
   */
  maxFrameSize?: number;
  /**
   * The most one message from mosaik may build when decoded, in the JSON
   * codec's cost units (about bytes of heap; see
   * `CodecOptions.maxDecodedSize`). mosaik's inputs, numbers or short
   * lists keyed by entity, attribute and full id, build 2–8 units per byte
   * of JSON, so the default lets such steps through up to `maxFrameSize`.
   * Many small objects build up to 32 units per byte: a message that builds
   * more closes the connection (mosaik sees it dropped) with a `RangeError`
   * naming `maxDecodedSize`.
   *
   * @default {10 × maxFrameSize} (160 Mi units for 16 MiB frames)
   */
  maxDecodedSize?: number;
}

/**
 * Serves mosaik's calls to a simulator on a connection, one at a time,
 * until mosaik sends `stop`: then calls `simulator.stop()`, closes the
 * connection without replying, and resolves. `startSimulation` is this
 * plus the command line; use this one to run a simulator on a connection
 * of your own.
 *
 * Failures go out in mosaik's form `[type, message, ...traceback lines]`;
 * mosaik's failures (replies to `simulator.mosaik` requests) come back as
 * `RemoteError`s with mosaik's type and message.
 *
 * @param simulator The simulator; it gets `simulator.mosaik`.
 * @param transport The connection to mosaik: a `Deno.Conn`, or any
 *   {@linkcode Transport} (e.g. one end of `createMemoryPair()`).
 * @param options See {@linkcode RunSimulatorOptions}.
 * @returns A promise that resolves after `stop`.
 * @throws {RangeError} At once, for a `callTimeout` that is not a number
 *   of milliseconds above 0, or a `maxFrameSize` that is not a whole
 *   number from 1 up or a `maxDecodedSize` that is not a positive number.
 * @throws {ConnectionClosedError} If the connection is lost before `stop`
 *   (its `cause` says why).
 * @throws {Error} Whatever `simulator.stop()` throws.
 *
 * @example
 * ```ts
 * import { Channel, createMemoryPair } from "@aiomas/aiomas/channel";
 * import { runSimulator, Simulator } from "@aiomas/aiomas/mosaik";
 * import assert from "node:assert/strict";
 *
 * class Nothing extends Simulator {
 *   constructor() {
 *     super({ models: {} });
 *   }
 *   create(): never {
 *     throw new RangeError("there are no models");
 *   }
 *   step(time: number): number {
 *     return time + 1;
 *   }
 *   getData(): Record<string, never> {
 *     return {};
 *   }
 * }
 * const [a, b] = createMemoryPair();
 * await using mosaik = new Channel(b);
 * const running = runSimulator(new Nothing(), a);
 * const meta = await mosaik.send(["init", ["Nothing-0"], { time_resolution: 1 }]);
 * assert.equal((meta as { type: string }).type, "time-based");
 * await assert.rejects(mosaik.send(["create", [1, "X"], {}]), { remoteName: "RangeError" });
 * assert.equal(await mosaik.send(["step", [0, {}, 10], {}]), 1);
 * mosaik.send(["stop", [], {}]).catch(() => {}); // no reply; the simulator closes
 * await running;
 * ```
 */
export function runSimulator(
  simulator: Simulator,
  transport: Transport,
  options: RunSimulatorOptions = {},
): Promise<void> {
  const { maxFrameSize, maxDecodedSize } = options;
  checkCallTimeout(options.callTimeout);
  const channel = new Channel(
    transport,
    mosaikChannelOptions(maxFrameSize, maxDecodedSize),
  );
  return serveSimulator(simulator, channel, options);
}

/**
 * {@linkcode runSimulator} on a channel made with `errorFormat: "mosaik"`
 * (`startSimulation` opens its connections as channels).
 */
export async function serveSimulator(
  simulator: Simulator,
  channel: Channel,
  options: Pick<RunSimulatorOptions, "onCall" | "callTimeout"> = {},
): Promise<void> {
  // Aborted once mosaik sent stop: it closes the connection 0.1 s later,
  // and a call that waits for an answer would hold the stop for good
  // while mosaik keeps the connection open (it may still answer meanwhile:
  // at shutdown, the answer is not worth the wait).
  const stopped = new AbortController();
  const stopping = () =>
    stopped.abort(
      new ConnectionClosedError(
        `mosaik (${channel.peer}) sent stop: the simulation is over`,
      ),
    );
  attachMosaik(
    simulator,
    new RemoteMosaikProxy(
      channel,
      stopped.signal,
      checkCallTimeout(options.callTimeout),
    ),
  );
  let meta: Meta = simulator.meta;
  // A call still running when the connection goes is given up, so that a
  // lost connection ends the simulation even if the simulator hangs.
  let interrupt: ((reason: unknown) => void) | null = null;
  const lost = (error?: unknown) =>
    interrupt?.(
      new ConnectionClosedError(
        `The connection to mosaik (${channel.peer}) was lost`,
        { cause: error },
      ),
    );
  channel.closed.then(() => lost(), lost);
  /** Answers one call of mosaik's (not stop). */
  const serve = async (request: Request): Promise<void> => {
    let result: unknown;
    try {
      const [name, args, kwargs] = checkCall(request.content);
      options.onCall?.(name, args, kwargs);
      result = callSimulator(simulator, meta, name, args, kwargs);
      if (result instanceof Promise) {
        const running = result;
        result = await new Promise((resolve, reject) => {
          interrupt = reject;
          if (channel.isClosed) lost();
          running.then(resolve, reject);
        }).finally(() => interrupt = null);
      }
      if (name === "init") meta = checkMeta(simulator, result);
      else checkResult(simulator, name, result);
    } catch (error) {
      await request.fail(error).catch(() => {});
      return;
    }
    try {
      await request.reply(result ?? null);
    } catch (error) {
      // A result the codec cannot encode goes back as the failure it is.
      await request.fail(error).catch(() => {});
    }
  };
  // The next request is taken while a call runs: a stop that mosaik sends
  // meanwhile (it shuts down) is seen even if the connection then closes
  // before the call ends, which drops the requests not taken yet.
  let next: Promise<Request> | null = null;
  for (;;) {
    let request: Request | undefined;
    try {
      request = await (next ?? channel.recv());
      // A call taken ahead is not served once mosaik is gone: this
      // rejects with why the connection closed.
      if (channel.isClosed && !isStop(request.content)) {
        request = await channel.recv();
      }
    } catch (error) {
      await channel.close({ timeout: 0 });
      const lostBeforeStop = new ConnectionClosedError(
        `The connection to mosaik (${channel.peer}) was lost before stop: ${
          error instanceof Error ? error.message : String(error)
        }`,
        { cause: error },
      );
      lostConnections.add(lostBeforeStop);
      throw lostBeforeStop;
    }
    if (isStop(request.content)) {
      stopping();
      options.onCall?.("stop", [], {});
      // No reply: mosaik only waits for the connection to close.
      try {
        await simulator.stop();
      } finally {
        await channel.close({ timeout: 0 });
      }
      return;
    }
    // This function's locals outlive its awaits: the call is served by
    // another, and let go of here, so that nothing of it (inputs, data
    // sent) stays reachable while the next call is awaited.
    const served = serve(request);
    request = undefined;
    next = channel.recv();
    next.then((taken) => {
      if (isStop(taken.content)) stopping();
    }, () => {});
    await served;
  }
}

/**
 * The errors that say the connection was lost before stop, as opposed to
 * what `simulator.stop()` threw (which may be a `ConnectionClosedError` too).
 */
const lostConnections = new WeakSet<Error>();

/** Whether `serveSimulator` threw `error` for a connection lost before stop. */
export function isLostConnection(error: unknown): boolean {
  return error instanceof Error && lostConnections.has(error);
}

/** Whether a call's content is mosaik's stop. */
function isStop(content: unknown): boolean {
  return Array.isArray(content) && content[0] === "stop";
}
