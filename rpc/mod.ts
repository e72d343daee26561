/**
 * The RPC layer: expose functions, objects and nested services, and call
 * them through typed remote proxies, in both directions on one connection.
 * Wire-compatible with aiomas's `rpc` module.
 *
 * @example
 * ```ts
 * import { expose, openConnection, startServer } from "@aiomas/aiomas/rpc";
 * import assert from "node:assert/strict";
 *
 * class MathServer {
 *   @expose add(a: number, b: number): number {
 *     return a + b;
 *   }
 * }
 * await using server = await startServer({ hostname: "127.0.0.1", port: 0 }, new MathServer());
 * await using client = await openConnection<MathServer>(server.addr);
 * assert.equal(await client.remote.add(3, 4), 7);
 * ```
 *
 * @module
 */
// The channel and codec types that appear in this module's signatures.
export type { Address } from "../channel/address.ts";
export type {
  Channel,
  ChannelOptions,
  ChannelStats,
  CloseOptions,
  ConnectTlsOptions,
  ErrorFormat,
  ListenTlsOptions,
  OpenConnectionOptions,
  RecvOptions,
  Request,
  SendOptions,
  StartServerOptions,
  TraceContextCarrier,
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
export { LookupError } from "../errors.ts";
export type { Caller } from "./_proxy.ts";
export { callContext } from "./call_context.ts";
export type { CallContext } from "./call_context.ts";
export { expose } from "./expose.ts";
export type {
  ExposableFunction,
  ExposeDecoratorContext,
  ExposeOptions,
} from "./expose.ts";
export { openConnection } from "./open_connection.ts";
export type { RpcOpenConnectionOptions } from "./open_connection.ts";
export type { DynamicRemote, Remote } from "./remote.ts";
export { RpcClient } from "./rpc_client.ts";
export type { RpcClientOptions } from "./rpc_client.ts";
export { Service } from "./service.ts";
export type { Resolved, ServiceMember } from "./service.ts";
export { ServiceDict } from "./service_dict.ts";
export type { ServiceDictEntries } from "./service_dict.ts";
export type {
  RpcTelemetryOptions,
  TelemetryAttributes,
  TelemetryMeterProvider,
  TelemetryTracerProvider,
} from "./telemetry_options.ts";
export { withOptions } from "./with_options.ts";
export type { CallOptions } from "./with_options.ts";
export { RpcServer, startServer } from "./start_server.ts";
export type { RpcStartServerOptions } from "./start_server.ts";
