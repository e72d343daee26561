import {
  type Address,
  formatAddress,
  parseAddress,
} from "../channel/address.ts";
import { deadlineTimer } from "../channel/_channel_options.ts";
import type { CodecClass } from "../codecs/codec.ts";
import { baseUrl } from "./_base_url.ts";
import { clockStart } from "./_clock_start.ts";
import { childCodecName } from "./_codec_names.ts";
import { internalsOf } from "./_internal.ts";
import { checkSameSerializers } from "./_load_serializers.ts";
import { LineSplitter } from "./_line_splitter.ts";
import type { AgentProxy, Container } from "./container.ts";
import type { Manager } from "./manager.ts";

/** Options of {@linkcode startContainerProcess}. */
export interface StartContainerProcessOptions {
  /** The container that talks to the new one's manager (both must use one codec). */
  container: Container;
  /**
   * Where the new container listens, in any form of `Address`:
   * `"host:port"`, `{ hostname, port }`, `"unix:/path/to.sock"`, `{ path }`, ….
   *
   * @default {"127.0.0.1:0"}
   */
  addr?: Address;
  /**
   * The codec class of both containers (a built-in one): `container`'s, as
   * it uses one codec for all its links.
   *
   * @default {the codec of `container`}
   */
  codec?: CodecClass;
  /** Give the new container an `ExternalClock` starting at this date. */
  externalClockStart?: Date | string;
  /** The external clock's initial time in seconds (aiomas masters use -1). @default {0} */
  externalClockInitTime?: number;
  /** TLS files (paths) for the new container. */
  tls?: { cert: string; key: string; ca?: string };
  /** Where relative `spawn` and `serializers` specs are resolved from: a URL or a directory's path. @default {the current directory} */
  base?: string;
  /**
   * The module that exports the new container's serializers, as
   * `"<module>#<ExportName>"` resolved like a spawn spec (`cli.ts
   * --serializers`), e.g. `"./types.ts#serializers"`. The export is the
   * array given as `serializers` to `options.container`: both ends must
   * register the same classes in the same order, and starting fails with a
   * `TypeError` if their class names differ.
   *
   * @default {none}
   */
  serializers?: string;
  /**
   * The modules the new container's manager may spawn agents from
   * (`cli.ts --allow-spawn`; see `ManagerOptions.allowSpawn`).
   *
   * @default {`file:` modules under the current directory}
   */
  allowSpawn?: readonly string[];
  /**
   * Deno permission flags of the process.
   *
   * @default {["--allow-net", "--allow-read"], plus "--allow-write" for a Unix socket `addr`}
   */
  permissions?: string[];
  /**
   * Stops waiting for the process to be ready: it is killed and the call
   * rejects with the signal's reason. Once started, the process is no
   * longer tied to the signal.
   */
  signal?: AbortSignal;
}

/** A container running in a subprocess, made by {@linkcode startContainerProcess}. */
export interface ContainerProcess extends AsyncDisposable {
  /** The container's address, e.g. `"tcp://127.0.0.1:41234/"`. */
  readonly addr: string;
  /** The proxy of its manager (agent `"0"`). */
  readonly manager: AgentProxy<Manager>;
  /** The process. */
  readonly process: Deno.ChildProcess;
  /**
   * Asks the manager to stop (or, if it cannot be reached, sends SIGTERM)
   * and waits for the process to exit; kills it if it does not exit within
   * `timeout` milliseconds (default 5000) of the call, the manager's
   * answer included (a container busy in a loop never answers).
   * Idempotent: later calls get the first one's status. The container's
   * shutdown calls it.
   *
   * @param timeout Milliseconds to wait for the exit before killing it.
   * @returns The exit status.
   */
  stop(timeout?: number): Promise<Deno.CommandStatus>;
  /** Kills the process and waits for it to exit. */
  kill(): Promise<Deno.CommandStatus>;
}

/**
 * Starts a managed container in a subprocess (`cli.ts` under `deno run`),
 * waits until it is ready and connects to its manager.
 *
 * @param options See {@linkcode StartContainerProcessOptions}.
 * @returns The process, its address and its manager's proxy.
 * @throws {TypeError} For a malformed `addr`, a codec without a
 *   command-line name or not the container's, a `container` that is not
 *   a Container, serializers that differ from the container's, or an
 *   `externalClockInitTime` that is not a number.
 * @throws {Error} If the process exits before it is ready (e.g. its
 *   serializers module cannot be loaded; its error is on stderr).
 * @throws {DOMException} The signal's reason (an `AbortError` by default) if
 *   `options.signal` is aborted first.
 * @throws {ConnectionClosedError} If the container is shutting down (no
 *   process is started).
 * @throws {RangeError} For an `externalClockStart` that is no date, or an
 *   `externalClockInitTime` out of range (checked before starting).
 *
 * @example
 * ```ts ignore
 * import { Container, startContainerProcess } from "@aiomas/aiomas/agent";
 *
 * await using container = await Container.create({ hostname: "127.0.0.1", port: 0 });
 * await using child = await startContainerProcess({ container });
 * const [worker, addr] = await child.manager.spawn("./agents.ts#Worker");
 * ```
 */
export async function startContainerProcess(
  options: StartContainerProcessOptions,
): Promise<ContainerProcess> {
  const containerInternals = internalsOf(
    options.container,
    "startContainerProcess()",
  );
  // Not a process its shutdown would never end.
  containerInternals.checkOpen();
  const addr = parseAddress(options.addr ?? "127.0.0.1:0");
  // Listening on a Unix socket creates a file.
  const permissions = options.permissions ??
    [
      "--allow-net",
      "--allow-read",
      ...(addr.transport === "unix" ? ["--allow-write"] : []),
    ];
  const args = [
    "run",
    ...permissions,
    new URL("../cli.ts", import.meta.url).href,
    "--addr",
    formatAddress(addr),
    "--codec",
    childCodecName(containerInternals.codec, options.codec),
  ];
  // Both ends of a link need the same limit.
  const maxFrameSize = containerInternals.maxFrameSize;
  if (maxFrameSize !== undefined) {
    args.push("--max-frame-size", String(maxFrameSize));
  }
  if (options.externalClockStart !== undefined) {
    const start = clockStart(
      options.externalClockStart,
      options.externalClockInitTime,
    );
    args.push("--clock", "external", "--start", start);
    if (options.externalClockInitTime !== undefined) {
      args.push(`--init-time=${options.externalClockInitTime}`);
    }
  }
  if (options.tls !== undefined) {
    args.push("--tls-cert", options.tls.cert, "--tls-key", options.tls.key);
    if (options.tls.ca !== undefined) args.push("--tls-ca", options.tls.ca);
  }
  // A path is resolved here, from this process's directory.
  if (options.base !== undefined) {
    args.push("--base", String(baseUrl(options.base)));
  }
  if (options.serializers !== undefined) {
    args.push("--serializers", options.serializers);
  }
  for (const prefix of options.allowSpawn ?? []) {
    args.push("--allow-spawn", prefix);
  }
  // The child ends with this process, even one killed at once: it watches
  // the pipe only this process holds.
  args.push("--exit-with-stdin");
  const signal = options.signal;
  signal?.throwIfAborted();
  // Not `Deno.Command`'s `signal`: that would kill the process whenever the
  // signal is aborted, also long after it is ready.
  const process = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  // Closed once the child has exited (the resource goes with it).
  const status = process.status.then(async (status) => {
    await process.stdin.close().catch(() => {});
    return status;
  });
  const lines = process.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
    new LineSplitter(),
  );
  const reader = lines.getReader();
  // A process the child started inherits its stdout by default and may
  // hold the pipe open after the child has exited: from then on the pipe
  // gets a moment to end, then is let go of (stop, kill and shutdown
  // waited for that process's end).
  const pipeEnded = Promise.withResolvers<void>();
  status.then(() => {
    const timer = setTimeout(() => {
      reader.cancel().catch(() => {});
    }, STDOUT_GRACE_MS);
    pipeEnded.promise.then(() => clearTimeout(timer));
  });
  // Cancelling ends the pending read below, which then throws the reason.
  const onAbort = () => reader.cancel().catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  // Until it is ready, the container's shutdown ends a starting process:
  // one that hangs while it starts (in its serializers module, say) would
  // keep this process alive.
  let endedWhileStarting: Error | undefined;
  let unregister = containerInternals.onShutdown(async () => {
    endedWhileStarting = new Error(
      "The container process was ended while it started: its parent container shut down",
    );
    onAbort();
    try {
      // Nothing of a starting container is worth a clean stop.
      process.kill("SIGKILL");
    } catch {
      // Exited already.
    }
    await status;
  });
  let ready:
    | { addr: string; manager: string; serializers?: string[] }
    | undefined;
  try {
    while (ready === undefined) {
      const { value, done } = await reader.read();
      if (done) {
        pipeEnded.resolve();
        signal?.throwIfAborted();
        if (endedWhileStarting !== undefined) throw endedWhileStarting;
        const { code, signal: killedBy } = await status;
        throw new Error(
          `The container process exited before it was ready (${
            killedBy === null ? `exit code ${code}` : `killed by ${killedBy}`
          }; its error is on stderr)`,
        );
      }
      // The ready line may end a line that the child's own code began
      // without a newline (a progress message, say).
      const at = value.lastIndexOf('{"addr":');
      ready = at < 0 ? undefined : readyLine(value.slice(at));
      const noise = ready === undefined ? value : value.slice(0, at);
      if (noise !== "") console.log(noise);
    }
  } catch (error) {
    unregister();
    await reader.cancel().catch(() => {});
    pipeEnded.resolve();
    try {
      process.kill();
    } catch {
      // Exited already.
    }
    await status;
    throw error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  // Keep draining the pipe, or the child blocks once it is full: its output is ours.
  const drained = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({
        value: "",
        done: true,
      }));
      if (done) return pipeEnded.resolve();
      console.log(value);
    }
  })();
  const exited = (async () => {
    const exit = await status;
    await drained;
    return exit;
  })();
  let manager: AgentProxy<Manager>;
  try {
    checkSameSerializers(
      containerInternals.serializerNames(),
      ready.serializers ?? [],
      ready.addr,
    );
    manager = await options.container.connect<Manager>(ready.manager, {
      signal,
    });
  } catch (error) {
    unregister();
    try {
      process.kill();
    } catch {
      // Exited already.
    }
    await exited;
    throw error;
  }
  const kill = async (): Promise<Deno.CommandStatus> => {
    try {
      process.kill("SIGKILL");
    } catch {
      // Exited already.
    }
    return await exited;
  };
  let stopping: Promise<Deno.CommandStatus> | null = null;
  const stop = (timeout = 5000): Promise<Deno.CommandStatus> =>
    stopping ??= stopProcess(timeout);
  const stopProcess = async (timeout: number): Promise<Deno.CommandStatus> => {
    unregister();
    // The deadline covers the manager's answer too: a container busy in a
    // loop never gives one.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) =>
      timer = deadlineTimer(timeout, () => resolve("late"))
    );
    const asked = await Promise.race([
      manager.stop().then(() => true, () => false),
      late,
    ]);
    if (asked === false) {
      // The manager is out of reach (e.g. this container is shut down):
      // SIGTERM asks cli.ts for the same clean shutdown.
      try {
        process.kill("SIGTERM");
      } catch {
        // Exited already.
      }
    }
    const outcome = asked === "late"
      ? asked
      : await Promise.race([exited, late]);
    clearTimeout(timer);
    return outcome === "late" ? await kill() : outcome;
  };
  // The container's shutdown stops the process too, so none outlives it.
  unregister();
  unregister = containerInternals.onShutdown(async () => {
    await stop();
  });
  return {
    addr: ready.addr,
    manager,
    process,
    stop,
    kill,
    [Symbol.asyncDispose]: async () => {
      await stop();
    },
  };
}

/**
 * Milliseconds the child's stdout has to end once the child has exited,
 * before it is let go of.
 */
const STDOUT_GRACE_MS = 200;

/** What cli.ts prints once ready, if `text` is that. */
function readyLine(
  text: string,
): { addr: string; manager: string; serializers?: string[] } | undefined {
  try {
    const parsed = JSON.parse(text);
    return typeof parsed?.addr === "string" &&
        typeof parsed?.manager === "string"
      ? parsed
      : undefined;
  } catch {
    return undefined;
  }
}
