/**
 * Test helpers: nats-server processes on loopback, always stopped.
 *
 * A server is ready when it logs that it listens; a cluster when every
 * node has logged a route to each other node. Nothing sleeps: the log
 * lines are awaited.
 */

const LISTENING = /Listening for client connections on 127\.0\.0\.1:(\d+)/;

/** One nats-server process. */
export class NatsServer implements AsyncDisposable {
  /** The client port. */
  readonly port: number;
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  #child: Deno.ChildProcess;
  #log: ServerLog;
  #stopped: Promise<Deno.CommandStatus> | null = null;

  private constructor(child: Deno.ChildProcess, log: ServerLog, port: number) {
    this.#child = child;
    this.#log = log;
    this.port = port;
    this.url = `nats://127.0.0.1:${port}`;
  }

  /**
   * Starts nats-server with `args` after `-a 127.0.0.1 -p <port>` and
   * waits for its "Listening for client connections" line.
   */
  static async start(
    options: { port?: number; args?: string[] } = {},
  ): Promise<NatsServer> {
    const child = new Deno.Command("nats-server", {
      args: [
        "-a",
        "127.0.0.1",
        "-p",
        String(options.port ?? -1),
        ...(options.args ?? []),
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const log = new ServerLog(child.stderr);
    try {
      const match = await log.waitFor(LISTENING);
      return new NatsServer(child, log, Number(match[1]));
    } catch (error) {
      child.kill("SIGKILL");
      await child.status;
      await log.done;
      throw error;
    }
  }

  /** The server's process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Waits until the log has `count` lines matching `pattern`. */
  waitForLog(pattern: RegExp, count = 1): Promise<void> {
    return this.#log.waitForCount(pattern, count);
  }

  /** Kills the process (SIGKILL by default) and waits for it. Idempotent. */
  stop(signal: Deno.Signal = "SIGKILL"): Promise<Deno.CommandStatus> {
    this.#stopped ??= (async () => {
      try {
        this.#child.kill(signal);
      } catch {
        // Exited already.
      }
      const status = await this.#child.status;
      await this.#log.done;
      return status;
    })();
    return this.#stopped;
  }

  /** Stops the server (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** Three nats-server nodes joined in one cluster on loopback. */
export class NatsCluster implements AsyncDisposable {
  /** The nodes. */
  readonly nodes: NatsServer[];

  private constructor(nodes: NatsServer[]) {
    this.nodes = nodes;
  }

  /** The client URLs of every node. */
  get urls(): string[] {
    return this.nodes.map((node) => node.url);
  }

  /** Starts three nodes and waits until each has routes to the other two. */
  static async start(size = 3): Promise<NatsCluster> {
    const clusterPorts = await freePorts(size);
    const routes = clusterPorts.map((port) => `nats-route://127.0.0.1:${port}`)
      .join(",");
    const nodes: NatsServer[] = [];
    try {
      for (const port of clusterPorts) {
        nodes.push(
          await NatsServer.start({
            args: [
              "--cluster_name",
              "aiomas",
              "--cluster",
              `nats://127.0.0.1:${port}`,
              "--routes",
              routes,
            ],
          }),
        );
      }
      // Routes to nodes not started yet are retried by the servers; a
      // route that is made is logged on both of its ends.
      await Promise.all(
        nodes.map((node) =>
          node.waitForLog(/Route connection created/, size - 1)
        ),
      );
    } catch (error) {
      await Promise.all(nodes.map((node) => node.stop()));
      throw error;
    }
    return new NatsCluster(nodes);
  }

  /** Stops every node. */
  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
  }
}

/** Ports free right now on 127.0.0.1 (for cluster ports, known in advance). */
async function freePorts(count: number): Promise<number[]> {
  const listeners = Array.from(
    { length: count },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const listener of listeners) listener.close();
  await Promise.resolve();
  return ports;
}

/** The server's log, read to the end (a Go program dies on a closed stderr pipe). */
class ServerLog {
  readonly done: Promise<void>;
  #text = "";
  #waiters = new Set<() => void>();
  #ended = false;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        this.#text += chunk;
        for (const wake of this.#waiters) wake();
      }
    })().catch(() => {}).finally(() => {
      this.#ended = true;
      for (const wake of this.#waiters) wake();
    });
  }

  async waitFor(pattern: RegExp): Promise<RegExpExecArray> {
    for (;;) {
      const match = pattern.exec(this.#text);
      if (match !== null) return match;
      await this.#next(pattern);
    }
  }

  async waitForCount(pattern: RegExp, count: number): Promise<void> {
    const global = new RegExp(pattern.source, "g");
    while ((this.#text.match(global)?.length ?? 0) < count) {
      await this.#next(pattern);
    }
  }

  #next(pattern: RegExp): Promise<void> {
    if (this.#ended) {
      return Promise.reject(
        new Error(
          `nats-server exited before logging ${pattern}:\n${this.#text}`,
        ),
      );
    }
    const { promise, resolve } = Promise.withResolvers<void>();
    const wake = () => {
      this.#waiters.delete(wake);
      resolve();
    };
    this.#waiters.add(wake);
    return promise;
  }
}
