// Helpers of the RPC tests: connected client pairs over the three
// transports, and a tap that records the frames one end writes.
import { concat } from "../_frames.ts";
import {
  Channel,
  createMemoryPair,
  type Transport,
} from "../../channel/mod.ts";
import {
  type CodecClass,
  JsonCodec,
  type SerializerSpec,
} from "../../codecs/mod.ts";
import { openConnection, RpcClient, startServer } from "../../rpc/mod.ts";

/** The transports a pair can run over. */
export type Kind = "memory" | "tcp" | "unix";

/** Every transport, for tests that run over each. */
export const KINDS: readonly Kind[] = ["memory", "tcp", "unix"];

/** What {@linkcode connectPair} takes. */
export interface PairOptions {
  /** What the connecting side ("client") serves. */
  clientService?: object;
  codec?: CodecClass;
  serializers?: readonly SerializerSpec[];
  /** The client's onConnectionReset. */
  onClientReset?: (error: unknown) => void;
}

/** Both ends of one RPC connection. */
export interface Pair<T> extends AsyncDisposable {
  /** The connecting side. */
  client: RpcClient<T>;
  /** The accepting side's end of the same connection. */
  server: RpcClient;
}

/**
 * Connects an RpcClient to a service over `kind`: rpc.startServer +
 * rpc.openConnection for sockets (a Unix socket in a temporary directory
 * that is removed again), two RpcClients on a memory pair otherwise.
 */
export async function connectPair<T>(
  kind: Kind,
  service: object,
  options: PairOptions = {},
): Promise<Pair<T>> {
  const codec = options.codec ?? JsonCodec;
  if (kind === "memory") {
    const [a, b] = createMemoryPair();
    const server = new RpcClient(
      new Channel(b, { codec: makeCodec(options) }),
      {
        service,
      },
    );
    const client = new RpcClient<T>(
      new Channel(a, { codec: makeCodec(options) }),
      {
        service: options.clientService,
        onConnectionReset: options.onClientReset,
      },
    );
    return {
      client,
      server,
      async [Symbol.asyncDispose]() {
        await client.close();
        await server.close();
      },
    };
  }
  const dir = kind === "unix" ? await Deno.makeTempDir() : undefined;
  const addr = dir === undefined
    ? { hostname: "127.0.0.1", port: 0 }
    : { path: `${dir}/rpc.sock` };
  const accepted = Promise.withResolvers<RpcClient>();
  const rpcServer = await startServer(addr, service, {
    codec,
    serializers: options.serializers,
    onConnection: (client) => accepted.resolve(client),
  });
  try {
    const client = await openConnection<T>(rpcServer.addr, {
      codec,
      serializers: options.serializers,
      service: options.clientService,
      onConnectionReset: options.onClientReset,
    });
    const server = await accepted.promise;
    return {
      client,
      server,
      async [Symbol.asyncDispose]() {
        await client.close();
        await rpcServer.close();
        if (dir !== undefined) await Deno.remove(dir, { recursive: true });
      },
    };
  } catch (error) {
    await rpcServer.close();
    if (dir !== undefined) await Deno.remove(dir, { recursive: true });
    throw error;
  }
}

function makeCodec(options: PairOptions) {
  const codec = new (options.codec ?? JsonCodec)();
  for (const [type, toWire, fromWire] of options.serializers ?? []) {
    codec.addSerializer(type, toWire, fromWire);
  }
  return codec;
}

/** A transport whose outgoing bytes are recorded, and what it recorded. */
export interface Tapped {
  transport: Transport;
  /** The frames written so far, each payload parsed as JSON text. */
  frames(): unknown[];
}

/**
 * Wraps a transport so that everything written to it is recorded; the
 * frames are parsed as plain JSON, so `__type__` maps stay plain data.
 */
export function tap(transport: Transport): Tapped {
  const chunks: Uint8Array[] = [];
  const recorder = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      chunks.push(chunk.slice());
      controller.enqueue(chunk);
    },
  });
  recorder.readable.pipeTo(transport.writable).catch(() => {});
  return {
    transport: { readable: transport.readable, writable: recorder.writable },
    frames: () =>
      splitFrames(concat(chunks)).map((payload) =>
        JSON.parse(new TextDecoder().decode(payload))
      ),
  };
}

/** Splits bytes into frame payloads (4-byte big-endian length + payload). */
export function splitFrames(bytes: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  while (offset + 4 <= bytes.length) {
    const length = view.getUint32(offset);
    if (offset + 4 + length > bytes.length) break;
    frames.push(bytes.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  return frames;
}
