/**
 * aiomas across machines through NATS: sessions between endpoints on NATS
 * subjects that the channel, RPC and agent layers run over as over a
 * socket ({@linkcode NatsEndpoint}, {@linkcode NatsTransport}), and RPC
 * services on subjects, with queue groups ({@linkcode serveNats},
 * {@linkcode connectNats}).
 *
 * The NATS client, nats.js (`npm:@nats-io/transport-node`), is loaded only
 * when a connection is opened from options.
 *
 * @example
 * ```ts ignore
 * import { connectNats, serveNats } from "@aiomas/aiomas/nats";
 * import { ServiceDict } from "@aiomas/aiomas";
 *
 * const nats = { servers: "127.0.0.1:4222" };
 * await using server = await serveNats(
 *   new ServiceDict({ add: (a: number, b: number) => a + b }),
 *   { nats, subject: "math" },
 * );
 * await using client = await connectNats("math", { nats });
 * console.log(await client.remote.add(1, 2)); // 3
 * ```
 *
 * @module
 */
// The types of other layers that this module's signatures name.
export type {
  Channel,
  ChannelStats,
  CloseOptions,
  RecvOptions,
  Request,
  SendOptions,
  TraceContextCarrier,
  Transport,
} from "../channel/mod.ts";
export type {
  Codec,
  CodecClass,
  CodecOptions,
  Constructor,
  DecodeOptions,
  FromWire,
  SerializerSpec,
  ToWire,
} from "../codecs/mod.ts";
export type {
  Caller,
  CallOptions,
  DynamicRemote,
  ExposableFunction,
  ExposeOptions,
  Remote,
  Resolved,
  RpcClient,
  RpcClientOptions,
  RpcTelemetryOptions,
  Service,
  ServiceMember,
  TelemetryAttributes,
  TelemetryMeterProvider,
  TelemetryTracerProvider,
} from "../rpc/mod.ts";
export type {
  NatsClient,
  NatsConnectOptions,
  NatsOption,
  NatsStatus,
  NatsTlsOptions,
} from "./nats_client.ts";
export {
  attachNats,
  DEFAULT_NATS_PREFIX,
  NatsAttachment,
  natsContainerName,
} from "./attach_nats.ts";
export type { AttachNatsOptions, NatsDialOptions } from "./attach_nats.ts";
export { connectNats, NatsRpcClient } from "./connect_nats.ts";
export type { ConnectNatsOptions } from "./connect_nats.ts";
export { NatsEndpoint } from "./nats_endpoint.ts";
export type {
  NatsEndpointOptions,
  NatsHello,
  NatsOpenOptions,
} from "./nats_endpoint.ts";
export { NatsTransport } from "./nats_transport.ts";
export type { NatsSessionOptions } from "./nats_transport.ts";
export { NatsRpcServer, serveNats } from "./serve_nats.ts";
export type { ServeNatsOptions } from "./serve_nats.ts";
