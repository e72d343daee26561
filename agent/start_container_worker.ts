import { pathToFileURL } from "node:url";
import { deadlineTimer } from "../channel/_channel_options.ts";
import { messagePortTransport } from "../channel/message_port_transport.ts";
import type { CodecClass } from "../codecs/codec.ts";
import { baseUrl } from "./_base_url.ts";
import { clockStart } from "./_clock_start.ts";
import { childCodecName } from "./_codec_names.ts";
import { internalsOf } from "./_internal.ts";
import { checkSameSerializers } from "./_load_serializers.ts";
import type { WorkerCommand, WorkerReport } from "./_worker_main.ts";
import type { AgentProxy, Container } from "./container.ts";
import type { Manager } from "./manager.ts";

/** Options of {@linkcode startContainerWorker}. */
export interface StartContainerWorkerOptions {
  /** The container that starts the Worker and talks to its manager. */
  container: Container;
  /** The worker container's name: its address is `worker://<name>/`. @default {"w1", "w2", …} */
  name?: string;
  /**
   * The codec class of both containers (a built-in one): `container`'s, as
   * it uses one codec for all its links.
   *
   * @default {the codec of `container`}
   */
  codec?: CodecClass;
  /** Give the worker container an `ExternalClock` starting at this date. */
  externalClockStart?: Date | string;
  /** The external clock's initial time in seconds (aiomas masters use -1). @default {0} */
  externalClockInitTime?: number;
  /** Where relative `spawn` and `serializers` specs are resolved from: a URL or a directory's path. @default {the current directory} */
  base?: string;
  /**
   * The module that exports the serializers of the worker container, as
   * `"<module>#<ExportName>"` resolved like a spawn spec (functions cannot
   * be sent to a Worker), e.g. `"./types.ts#serializers"`. The export is
   * the array given as `serializers` to `options.container`: both ends
   * must register the same classes in the same order, and starting fails
   * with a `TypeError` if their class names differ.
   *
   * @default {none}
   */
  serializers?: string;
  /**
   * The modules the worker's manager may spawn agents from (see
   * `ManagerOptions.allowSpawn`).
   *
   * @default {`file:` modules under the current directory}
   */
  allowSpawn?: readonly string[];
}

/** A container running in a Worker, made by {@linkcode startContainerWorker}. */
export interface ContainerWorker extends AsyncDisposable {
  /** The container's address, `"worker://<name>/"`. */
  readonly addr: string;
  /** The proxy of its manager (agent `"0"`). */
  readonly manager: AgentProxy<Manager>;
  /** The Worker. */
  readonly worker: Worker;
  /**
   * Asks the manager to stop, waits for the worker container to shut down
   * (at most `timeout` ms, default 5000: a worker busy in a loop never
   * answers), ends the Worker.
   */
  stop(timeout?: number): Promise<void>;
  /**
   * Ends the Worker at once. Calls waiting for its agents (from the parent
   * container or sibling workers) fail with `ConnectionClosedError`.
   */
  terminate(): void;
  /**
   * Settles when the Worker has ended and its name is free again: by
   * `stop` or `terminate`, its manager stopped by any peer, an uncaught
   * error, or `self.close()` or `Deno.exit()` in it.
   */
  readonly ended: Promise<void>;
}

const workersOf = new WeakMap<Container, Map<string, Worker>>();
let counter = 0;

/**
 * Starts a container inside a Deno Worker: real parallelism without a
 * process. It is linked to `options.container` (and to the other workers
 * that container started) over `MessagePort`s, with frames transferred,
 * not copied; its agents have addresses `worker://<name>/<aid>` and are
 * called like any other. Agents in the worker reach the parent's agents,
 * their siblings', and any TCP or Unix container with `connect`.
 *
 * @param options See {@linkcode StartContainerWorkerOptions}.
 * @returns The worker, its address and its manager's proxy.
 * @throws {TypeError} For a codec that is not built in or not the
 *   container's, a name that is empty, contains `/`, is in use or is the
 *   container's own, a `container` that is not a Container, serializers
 *   that differ from the container's, or an `externalClockInitTime` that is
 *   not a number.
 * @throws {Error} If the worker fails to start (e.g. its serializers
 *   module cannot be loaded).
 * @throws {ConnectionClosedError} If the container is shutting down (no
 *   Worker is started).
 * @throws {RangeError} For an `externalClockStart` that is no date, or an
 *   `externalClockInitTime` out of range (checked before starting).
 *
 * @example
 * ```ts ignore
 * import { Container, startContainerWorker } from "@aiomas/aiomas/agent";
 *
 * await using container = await Container.create({ hostname: "127.0.0.1", port: 0 });
 * await using worker = await startContainerWorker({ container });
 * const [agent, addr] = await worker.manager.spawn("./agents.ts#Worker");
 * ```
 */
export async function startContainerWorker(
  options: StartContainerWorkerOptions,
): Promise<ContainerWorker> {
  const parent = options.container;
  const parentInternals = internalsOf(parent, "startContainerWorker()");
  // Not a Worker its shutdown would never end.
  parentInternals.checkOpen();
  // Checked here, before a Worker is spent on a clock it would refuse.
  const start = options.externalClockStart === undefined
    ? undefined
    : clockStart(options.externalClockStart, options.externalClockInitTime);
  const codec = childCodecName(parentInternals.codec, options.codec);
  let siblings = workersOf.get(parent);
  if (siblings === undefined) workersOf.set(parent, siblings = new Map());
  // A worker's own workers are named after it (`w1.1`): each Worker
  // counts from 1, and `w1` would be its own name.
  const prefix = parent.addr.startsWith("worker://")
    ? `${parent.addr.slice("worker://".length, -1)}.`
    : "w";
  let name = options.name;
  // A name of its own, not one given to another worker of this parent.
  while (
    name === undefined || (options.name === undefined && siblings.has(name))
  ) {
    name = `${prefix}${++counter}`;
  }
  const addr = `worker://${name}/`;
  // Checked before a Worker is spent on it (the worker would refuse it too).
  if (name === "" || name.includes("/")) {
    throw new TypeError(`Cannot start worker: invalid name "${name}"`);
  }
  if (siblings.has(name)) {
    throw new TypeError(`Cannot start worker: "${addr}" exists already`);
  }
  if (addr === parent.addr) {
    throw new TypeError(
      `Cannot start worker: "${addr}" is the address of the container that starts it`,
    );
  }

  const worker = new Worker(
    new URL("./_worker_main.ts", import.meta.url).href,
    { type: "module", name },
  );
  const reports = new ReportQueue(worker);
  const post = (command: WorkerCommand, transfer: Transferable[]) =>
    worker.postMessage(command, transfer);
  const link = new MessageChannel();
  const parentLink = messagePortTransport(link.port1);
  const linkClosed = parentInternals.attach(addr, parentLink);
  post({
    type: "init",
    name,
    codec,
    maxFrameSize: parentInternals.maxFrameSize,
    clockStart: start,
    clockInitTime: options.externalClockInitTime,
    // pathToFileURL escapes `#`, `%` and spaces and knows Windows drives.
    base: options.base === undefined
      ? pathToFileURL(`${Deno.cwd()}/`).href
      : String(baseUrl(options.base)),
    serializers: options.serializers,
    allowSpawn: options.allowSpawn,
    parent: parent.addr,
    port: link.port2,
  }, [link.port2]);
  for (const [siblingName, sibling] of siblings) {
    const pair = new MessageChannel();
    sibling.postMessage(
      { type: "attach", addr, port: pair.port1 } satisfies WorkerCommand,
      [pair.port1],
    );
    post(
      { type: "attach", addr: `worker://${siblingName}/`, port: pair.port2 },
      [pair.port2],
    );
  }
  siblings.set(name, worker);
  const ended = Promise.withResolvers<void>();
  let unregister = () => {};
  const terminate = () => {
    if (siblings.get(name) !== worker) return;
    siblings.delete(name);
    unregister();
    worker.terminate();
    // A terminated Worker tells nobody: drop the links to it, so that calls
    // waiting for its agents fail instead of waiting forever.
    parentLink.close?.();
    for (const sibling of siblings.values()) {
      sibling.postMessage({ type: "detach", addr } satisfies WorkerCommand);
    }
    reports.end(new Error(`The worker container ${addr} ended`));
    ended.resolve();
  };
  let linkIsClosed = false;
  // An uncaught error ends the Worker, just as silently; so does its own
  // close, exit or manager's stop, which it reports.
  reports.onEnd = terminate;
  // Until it is ready, the parent's shutdown ends a starting worker: one
  // that hangs while it starts (in its serializers module, say) would
  // keep the process alive.
  unregister = parentInternals.onShutdown(() => {
    reports.end(
      new Error(
        `The worker container ${addr} was ended while it started: its parent container shut down`,
      ),
    );
    return Promise.resolve();
  });

  let manager: AgentProxy<Manager>;
  try {
    const report = await reports.next();
    if (report.type !== "ready") {
      throw new Error(
        `The worker container failed to start: ${
          report.type === "error" ? report.message : report.type
        }`,
      );
    }
    checkSameSerializers(
      parentInternals.serializerNames(),
      report.serializers,
      addr,
    );
    manager = await parent.connect<Manager>(report.manager);
  } catch (error) {
    terminate();
    throw error;
  }
  let stopping: Promise<void> | null = null;
  const stop = (timeout = 5000) =>
    stopping ??= (async () => {
      unregister();
      const stopped = reports.next();
      stopped.catch(() => {});
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<void>((resolve) => {
        timer = deadlineTimer(timeout, resolve);
      });
      await Promise.race([
        (async () => {
          const asked = await manager.stop().then(() => true, () => false);
          // Without an answer (the worker or the parent container is gone
          // already), no "stopped" report may come, unless the link is
          // down because the worker container is stopping anyway.
          if (asked || linkIsClosed) await stopped.catch(() => {});
        })(),
        late,
      ]);
      clearTimeout(timer);
      terminate();
    })();
  // The parent's shutdown stops the worker too, so no Worker outlives it.
  unregister();
  unregister = parentInternals.onShutdown(() => stop());
  // The worker container closed the link: its manager was stopped (by any
  // peer, as a Python master does). Drop it once it reports so.
  linkClosed.then(() => {
    linkIsClosed = true;
    stop();
  });
  return {
    addr,
    manager,
    worker,
    stop,
    terminate,
    ended: ended.promise,
    [Symbol.asyncDispose]: () => stop(),
  };
}

const FIRST_REPORTS = new Set<unknown>(["ready", "error", "stopped", "ended"]);
const LATER_REPORTS = new Set<unknown>(["stopped", "ended"]);

/**
 * The worker's reports, in order; its end (an error event, or an "ended"
 * report) rejects the next one.
 */
class ReportQueue {
  /**
   * Called when the worker ends by itself: an uncaught error, its own close
   * or exit, or a "stopped" report nobody waits for (its manager was told
   * to stop by someone else).
   */
  onEnd: () => void = () => {};
  #reports: WorkerReport[] = [];
  /** Whether its first report (ready or not) came. */
  #started = false;
  #waiter: PromiseWithResolvers<WorkerReport> | null = null;
  #error: unknown = undefined;

  constructor(worker: Worker) {
    worker.onmessage = (event: MessageEvent<unknown>) => {
      const report = event.data as WorkerReport;
      // Code in the worker may post too: only our reports count, and once
      // the worker started only the end of it (kept for `stop`).
      if (
        typeof report !== "object" || report === null ||
        !(this.#started ? LATER_REPORTS : FIRST_REPORTS).has(report.type)
      ) return;
      this.#started = true;
      if (report.type === "ended") {
        return this.#end(new Error("The worker ended (it closed or exited)"));
      }
      if (this.#waiter !== null) {
        this.#waiter.resolve(report);
        this.#waiter = null;
      } else {
        this.#reports.push(report);
        if (report.type === "stopped") this.onEnd();
      }
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#end(new Error(`The worker failed: ${event.message}`));
    };
  }

  /** The worker ended: the next report never comes. */
  end(error: Error): void {
    this.#end(error);
  }

  #end(error: Error): void {
    this.#error ??= error;
    this.#waiter?.reject(this.#error);
    this.#waiter = null;
    this.onEnd();
  }

  next(): Promise<WorkerReport> {
    const report = this.#reports.shift();
    if (report !== undefined) return Promise.resolve(report);
    if (this.#error !== undefined) return Promise.reject(this.#error);
    this.#waiter = Promise.withResolvers();
    return this.#waiter.promise;
  }
}
