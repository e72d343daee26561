/**
 * Test helper: a TCP proxy on loopback in front of a nats-server, to take
 * a client's connection down and bring it back at will. While it is cut,
 * every new connection is closed at once (nats.js keeps trying); nothing
 * is timed.
 */

/** One client's connection through the proxy. */
interface Pair {
  client: Deno.TcpConn;
  upstream: Deno.TcpConn;
  /** The upstream connection's own port, as the server's log names it. */
  port: number;
  done: Promise<void>;
}

/** A proxy to `127.0.0.1:<target>`. */
export class TcpProxy implements AsyncDisposable {
  /** The port clients connect to. */
  readonly port: number;
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  #listener: Deno.TcpListener;
  #target: number;
  #up = true;
  #pairs = new Set<Pair>();
  /** Connections being set up. */
  #opening = new Set<Promise<void>>();
  #accepting: Promise<void>;

  private constructor(listener: Deno.TcpListener, target: number) {
    this.#listener = listener;
    this.#target = target;
    this.port = (listener.addr as Deno.NetAddr).port;
    this.url = `nats://127.0.0.1:${this.port}`;
    this.#accepting = this.#accept();
  }

  /** Listens on a free port of 127.0.0.1, forwarding to `target`. */
  static start(target: number): TcpProxy {
    return new TcpProxy(
      Deno.listen({ hostname: "127.0.0.1", port: 0 }),
      target,
    );
  }

  /**
   * Closes every connection through the proxy and refuses new ones until
   * {@linkcode restore}.
   *
   * @returns The ports of the upstream connections closed (the server logs
   *   `127.0.0.1:<port> - cid:… - Client connection closed`).
   */
  async cut(): Promise<number[]> {
    this.#up = false;
    await Promise.all(this.#opening);
    const pairs = [...this.#pairs];
    for (const pair of pairs) closeBoth(pair);
    await Promise.all(pairs.map((pair) => pair.done));
    return pairs.map((pair) => pair.port);
  }

  /** Lets connections through again. */
  restore(): void {
    this.#up = true;
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    this.#up = false;
    try {
      this.#listener.close();
    } catch {
      // Closed already.
    }
    await this.#accepting;
    await this.cut();
  }

  /** Closes the proxy (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #accept(): Promise<void> {
    try {
      for await (const client of this.#listener) {
        if (!this.#up) {
          client.close();
          continue;
        }
        const opening = this.#open(client);
        this.#opening.add(opening);
        opening.finally(() => this.#opening.delete(opening));
      }
    } catch {
      // The listener is closed.
    }
  }

  async #open(client: Deno.TcpConn): Promise<void> {
    let upstream: Deno.TcpConn;
    try {
      upstream = await Deno.connect({
        hostname: "127.0.0.1",
        port: this.#target,
      });
    } catch {
      client.close();
      return;
    }
    // As nats.js and nats-server do: no Nagle delay on small messages.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const pair: Pair = {
      client,
      upstream,
      port: (upstream.localAddr as Deno.NetAddr).port,
      done: Promise.resolve(),
    };
    if (!this.#up) {
      // Cut while it was being set up.
      closeBoth(pair);
      return;
    }
    pair.done = Promise.all([
      copy(client, upstream, pair),
      copy(upstream, client, pair),
    ]).then(() => {
      this.#pairs.delete(pair);
    });
    this.#pairs.add(pair);
  }
}

/** Copies `from` to `to` until either ends; then closes both. */
async function copy(from: Deno.TcpConn, to: Deno.TcpConn, pair: Pair) {
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) break;
      let at = 0;
      while (at < n) at += await to.write(buffer.subarray(at, n));
    }
  } catch {
    // Closed by the other direction or by a cut.
  }
  closeBoth(pair);
}

function closeBoth(pair: Pair): void {
  for (const conn of [pair.client, pair.upstream]) {
    try {
      conn.close();
    } catch {
      // Closed already.
    }
  }
}
