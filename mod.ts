/**
 * aiomas for Deno: request/reply channels, RPC and agents over TCP, Unix
 * sockets, TLS and in-memory streams, wire-compatible with Python aiomas
 * 2.0.1.
 *
 * @example A channel over an in-memory pair
 * ```ts
 * import { Channel, createMemoryPair } from "@aiomas/aiomas";
 * import assert from "node:assert/strict";
 *
 * const [a, b] = createMemoryPair();
 * await using client = new Channel(a);
 * await using server = new Channel(b);
 * const reply = client.send("ohai");
 * const request = await server.recv();
 * await request.reply(`${request.content} back`);
 * assert.equal(await reply, "ohai back");
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export * from "./channel/mod.ts";
export * from "./codecs/mod.ts";
export * from "./agent/mod.ts";
export * as rpc from "./rpc/mod.ts";
export {
  callContext,
  expose,
  RpcClient,
  Service,
  ServiceDict,
  withOptions,
} from "./rpc/mod.ts";
export type {
  CallContext,
  Caller,
  CallOptions,
  DynamicRemote,
  ExposableFunction,
  ExposeDecoratorContext,
  ExposeOptions,
  Remote,
  Resolved,
  RpcClientOptions,
  RpcTelemetryOptions,
  ServiceMember,
  TelemetryAttributes,
  TelemetryMeterProvider,
  TelemetryTracerProvider,
} from "./rpc/mod.ts";
