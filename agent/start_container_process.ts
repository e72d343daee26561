import type { CodecClass } from "../codecs/codec.ts";
import { codecName } from "./_codec_names.ts";
import type { AgentProxy, Container } from "./container.ts";
import type { Manager } from "./manager.ts";

/** Options of {@linkcode startContainerProcess}. */
export interface StartContainerProcessOptions {
  /** The container that talks to the new one's manager (both must use one codec). */
  container: Container;
  /** `host:port` or a Unix socket path for the new container. @default {"127.0.0.1:0"} */
  addr?: string;
  /** The codec class of both containers. @default {JsonCodec} */
  codec?: CodecClass;
  /** Give the new container an `ExternalClock` starting at this date. */
  externalClockStart?: Date | string;
  /** TLS files (paths) for the new container. */
  tls?: { cert: string; key: string; ca?: string };
  /** Where relative `spawn` specs are resolved from. @default {the current directory} */
  base?: string;
  /** Deno permission flags of the process. @default {["--allow-net", "--allow-read"]} */
  permissions?: string[];
  /** Stops waiting for the process to be ready. */
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
   * Asks the manager to stop and waits for the process to exit; kills it
   * if it does not exit within `timeout` milliseconds (default 5000).
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
 * @throws {TypeError} For a codec without a command-line name.
 * @throws {Error} If the process exits before it is ready.
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
  const args = [
    "run",
    ...(options.permissions ?? ["--allow-net", "--allow-read"]),
    new URL("../cli.ts", import.meta.url).href,
    "--addr",
    options.addr ?? "127.0.0.1:0",
    "--codec",
    codecName(options.codec),
  ];
  if (options.externalClockStart !== undefined) {
    const start = options.externalClockStart instanceof Date
      ? options.externalClockStart.toISOString()
      : options.externalClockStart;
    args.push("--clock", "external", "--start", start);
  }
  if (options.tls !== undefined) {
    args.push("--tls-cert", options.tls.cert, "--tls-key", options.tls.key);
    if (options.tls.ca !== undefined) args.push("--tls-ca", options.tls.ca);
  }
  if (options.base !== undefined) args.push("--base", options.base);
  const process = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
    signal: options.signal,
  }).spawn();
  const lines = process.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
    new LineSplitter(),
  );
  const reader = lines.getReader();
  let ready: { addr: string; manager: string } | undefined;
  try {
    while (ready === undefined) {
      const { value, done } = await reader.read();
      if (done) {
        throw new Error("The container process exited before it was ready");
      }
      try {
        const parsed = JSON.parse(value);
        if (
          typeof parsed?.addr === "string" &&
          typeof parsed?.manager === "string"
        ) ready = parsed;
        else console.log(value);
      } catch {
        console.log(value);
      }
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    try {
      process.kill();
    } catch {
      // Exited already.
    }
    await process.status;
    throw error;
  }
  // Keep draining the pipe, or the child blocks once it is full: its output is ours.
  const drained = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({
        value: "",
        done: true,
      }));
      if (done) return;
      console.log(value);
    }
  })();
  const exited = (async () => {
    const status = await process.status;
    await drained;
    return status;
  })();
  let manager: AgentProxy<Manager>;
  try {
    manager = await options.container.connect<Manager>(ready.manager);
  } catch (error) {
    process.kill();
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
  const stop = async (timeout = 5000): Promise<Deno.CommandStatus> => {
    await manager.stop().catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) =>
      timer = setTimeout(() => resolve("late"), timeout)
    );
    const outcome = await Promise.race([exited, late]);
    clearTimeout(timer);
    return outcome === "late" ? await kill() : outcome;
  };
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

/** Splits text into lines. */
class LineSplitter extends TransformStream<string, string> {
  constructor() {
    let buffer = "";
    super({
      transform(chunk, controller) {
        buffer += chunk;
        const lines = buffer.split("\n");
        buffer = lines.pop()!;
        for (const line of lines) controller.enqueue(line);
      },
      flush(controller) {
        if (buffer !== "") controller.enqueue(buffer);
      },
    });
  }
}
