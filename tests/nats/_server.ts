/**
 * Test helpers: nats-server processes on loopback, always stopped.
 *
 * A server is ready when it logs that it listens; a cluster when every
 * node has registered a route to each other node. Nothing sleeps: the
 * log lines are awaited.
 */
import { connect, RequestError } from "npm:@nats-io/transport-node@3.4.0";

const LISTENING = /Listening for client connections on 127\.0\.0\.1:(\d+)/;
const ROUTE_LISTENING = /Listening for route connections on 127\.0\.0\.1:(\d+)/;

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
      try {
        child.kill("SIGKILL");
      } catch {
        // It exited by itself (a bad configuration, say): its log says why.
      }
      await child.status;
      await log.done;
      throw error;
    }
  }

  /** The server's process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Waits until the log matches `pattern`; returns the first match. */
  waitForMatch(pattern: RegExp): Promise<RegExpExecArray> {
    return this.#log.waitFor(pattern);
  }

  /** Waits until the log has `count` lines matching `pattern`. */
  waitForLog(pattern: RegExp, count = 1): Promise<void> {
    return this.#log.waitForCount(pattern, count);
  }

  /**
   * Waits until a request sent to this server on `subject` reaches a
   * subscriber, which must answer it (aiomas endpoints answer any message
   * that is not a session hello).
   *
   * In a cluster, a subscription made on one node reaches the others over
   * the routes a little later, and a request sent meanwhile gets NATS's
   * no-responders at once. The server announces nothing when the interest
   * arrives, so this asks again after each no-responders answer (each
   * attempt awaits the server's answer; no timer).
   */
  async waitForInterest(subject: string, timeout = 5000): Promise<void> {
    const deadline = performance.now() + timeout;
    const nc = await connect({ servers: this.url });
    try {
      for (;;) {
        try {
          await nc.request(subject, "", { timeout });
          return;
        } catch (error) {
          const absent = error instanceof RequestError &&
            error.isNoResponders();
          if (!absent) throw error;
          if (performance.now() > deadline) {
            throw new Error(
              `${this.url} saw no subscriber of "${subject}" within ${timeout} ms`,
            );
          }
        }
      }
    } finally {
      await nc.close();
    }
  }

  /**
   * Freezes the process (SIGSTOP): it keeps its sockets and answers
   * nothing until {@linkcode thaw}. `stop` ends a frozen one too. Settles
   * once the kernel shows it stopped (a signal is delivered later).
   */
  async freeze(): Promise<void> {
    Deno.kill(this.pid, "SIGSTOP");
    // Read by `cat`: the tests may run processes, not read /proc. The
    // state is the field after the parenthesised command name.
    const stat = new Deno.Command("cat", { args: [`/proc/${this.pid}/stat`] });
    const decoder = new TextDecoder();
    while (!/\) T /.test(decoder.decode((await stat.output()).stdout))) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Lets a frozen process run again (SIGCONT). */
  thaw(): void {
    Deno.kill(this.pid, "SIGCONT");
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

  /**
   * Starts `size` nodes (three by default), each with `nodeArgs(index)`
   * after the cluster's own arguments, and waits until each has
   * registered routes to every other.
   *
   * Each node picks its own cluster port (`-1`, read from its log): ports
   * chosen in advance could be taken before their node binds them (by any
   * ephemeral port, such as a route's own outgoing one). The later nodes
   * route to the first, which tells the others of each new node: every
   * pair then dials once (pairs that dial each other at once close a
   * duplicate, sometimes one already registered). Nodes run with `-D`:
   * only the debug log says when a route is registered.
   */
  static async start(
    size = 3,
    nodeArgs: (index: number) => string[] = () => [],
  ): Promise<NatsCluster> {
    const nodes: NatsServer[] = [];
    let seed: string | undefined;
    try {
      for (let i = 0; i < size; i++) {
        const node = await NatsServer.start({
          args: [
            "-D",
            "--cluster_name",
            "aiomas",
            "--cluster",
            "nats://127.0.0.1:-1",
            ...(seed === undefined ? [] : ["--routes", seed]),
            ...nodeArgs(i),
          ],
        });
        nodes.push(node);
        if (seed === undefined) {
          const [, port] = await node.waitForMatch(ROUTE_LISTENING);
          seed = `nats-route://127.0.0.1:${port}`;
        }
      }
      await Promise.all(
        nodes.map((node) =>
          node.waitForLog(/Registering remote route/, size - 1)
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
