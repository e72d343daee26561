// The server `deno task attack` attacks, started as the README shows:
// `rpc.startServer` on 127.0.0.1 port 0 with default options, the codec
// named by the first argument. Prints `{"port": N}` once it listens, then
// serves until it is killed.
//
//   deno run --allow-net=127.0.0.1 --v8-flags=--expose-gc \
//     tests/reliability/_attack_server.ts json|msgpack|msgpackblosc
import {
  expose,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
  rpc,
} from "../../mod.ts";

const CODECS = {
  json: JsonCodec,
  msgpack: MsgPackCodec,
  msgpackblosc: MsgPackBloscCodec,
};
const name = Deno.args[0] as keyof typeof CODECS;
if (!(name in CODECS)) {
  console.error(`usage: _attack_server.ts ${Object.keys(CODECS).join("|")}`);
  Deno.exit(2);
}

const MIB = "x".repeat(1024 * 1024);
/** How long `slow()` works: longer than any attack runs. */
const SLOW_MS = 10 * 60 * 1000;

class AttackService {
  @expose
  echo(x: unknown): unknown {
    return x;
  }

  /** 1 MiB reply. */
  @expose
  big(): string {
    return MIB;
  }

  /**
   * Keeps its argument for a long time, then answers its length; stops
   * early when its caller is gone, as the README tells handlers to.
   */
  @expose({ context: true })
  async slow(x: unknown): Promise<number> {
    const { signal } = rpc.callContext();
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, SLOW_MS);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve(undefined);
      }, { once: true });
    });
    return typeof x === "string" ? x.length : 0;
  }

  /** Memory after a full collection (the server runs with --expose-gc). */
  @expose
  heap(): { rss: number; heapUsed: number; external: number } {
    const gc = (globalThis as { gc?: () => void }).gc;
    // Twice: the buffers one collection frees leave `external` when their
    // sweep ends, which the next collection waits for.
    gc?.();
    gc?.();
    const { rss, heapUsed, external } = Deno.memoryUsage();
    return { rss, heapUsed, external };
  }
}

const server = await rpc.startServer(
  { hostname: "127.0.0.1", port: 0 },
  new AttackService(),
  { codec: CODECS[name] },
);
const addr = server.addr as { port: number };
console.log(JSON.stringify({ port: addr.port }));
await server.closed;
