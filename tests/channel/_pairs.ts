// Channel pairs over every kind of transport, for tests that run the same
// checks over each: memory pairs (stream and conn-like), a MessagePort, TCP
// on 127.0.0.1 and a Unix socket in a temporary directory.
import { connLike } from "./_conn_like.ts";
import {
  Channel,
  createMemoryPair,
  messagePortTransport,
  openConnection,
  startServer,
} from "../../channel/mod.ts";
import type { CodecClass } from "../../codecs/mod.ts";

/** Two connected channels; disposing closes both (and their server). */
export interface Pair extends AsyncDisposable {
  client: Channel;
  server: Channel;
}

/** Makes a pair whose channels use `codec`. */
export type PairMaker = (codec: CodecClass) => Promise<Pair>;

function pairOf(
  client: Channel,
  server: Channel,
  after: () => Promise<void> = () => Promise.resolve(),
): Pair {
  return {
    client,
    server,
    async [Symbol.asyncDispose]() {
      await client.close();
      await server.close();
      await client.closed.catch(() => {});
      await server.closed.catch(() => {});
      await after();
    },
  };
}

async function serverPair(
  codec: CodecClass,
  address: string | { hostname: string; port: number },
  after: () => Promise<void> = () => Promise.resolve(),
): Promise<Pair> {
  const side = Promise.withResolvers<Channel>();
  const server = await startServer(address, (channel) => {
    side.resolve(channel);
    return channel.closed.catch(() => {});
  }, { codec });
  const client = await openConnection(server.addr, { codec });
  return pairOf(client, await side.promise, async () => {
    await server.close();
    await after();
  });
}

/** A pair maker for each kind of transport, by name. */
export const TRANSPORTS: Record<string, PairMaker> = {
  "memory pair": (codec) => {
    const [a, b] = createMemoryPair();
    return Promise.resolve(
      pairOf(
        new Channel(a, { codec: new codec() }),
        new Channel(b, { codec: new codec() }),
      ),
    );
  },
  "conn-like memory pair": (codec) => {
    const [a, b] = createMemoryPair();
    return Promise.resolve(
      pairOf(
        new Channel(connLike(a), { codec: new codec() }),
        new Channel(connLike(b), { codec: new codec() }),
      ),
    );
  },
  "MessagePort": (codec) => {
    const { port1, port2 } = new MessageChannel();
    return Promise.resolve(
      pairOf(
        new Channel(messagePortTransport(port1), { codec: new codec() }),
        new Channel(messagePortTransport(port2), { codec: new codec() }),
      ),
    );
  },
  "TCP": (codec) => serverPair(codec, { hostname: "127.0.0.1", port: 0 }),
  "Unix socket": async (codec) => {
    const dir = await Deno.makeTempDir();
    return serverPair(
      codec,
      `unix:${dir}/bulk.sock`,
      () => Deno.remove(dir, { recursive: true }),
    );
  },
};
