/**
 * The agent layer: containers host thousands of agents and carry every
 * call between them and other containers over one connection per peer
 * container; clocks give real or externally set time. Wire-compatible
 * with aiomas's `Container` and `Agent`.
 *
 * @example
 * ```ts
 * import { Agent, Container } from "@aiomas/aiomas/agent";
 * import { expose } from "@aiomas/aiomas/rpc";
 * import assert from "node:assert/strict";
 *
 * class Greeter extends Agent {
 *   @expose greet(name: string): string {
 *     return `Hello, ${name}!`;
 *   }
 * }
 * await using container = await Container.create({ hostname: "127.0.0.1", port: 0 });
 * const greeter = new Greeter(container);
 * const proxy = await container.connect<Greeter>(greeter.addr);
 * assert.equal(await proxy.greet("Deno"), "Hello, Deno!");
 * ```
 *
 * @module
 */
export { Agent } from "./agent.ts";
export { containerAddress, parseAgentAddress } from "./agent_address.ts";
export type { AgentAddress } from "./agent_address.ts";
export type { Clock, SleepOptions, TimerHandle } from "./clock.ts";
export { Container } from "./container.ts";
export type {
  AgentProxy,
  ConnectOptions,
  ContainerNatsOptions,
  ContainerNatsSessionOptions,
  ContainerOptions,
  ContainerTlsOptions,
} from "./container.ts";
export type {
  NatsClient,
  NatsConnectOptions,
  NatsStatus,
  NatsTlsOptions,
} from "../nats/nats_client.ts";
export { ExternalClock } from "./external_clock.ts";
export { loadAgentClass, Manager } from "./manager.ts";
export type { AgentClass, ManagerOptions } from "./manager.ts";
export { startContainerProcess } from "./start_container_process.ts";
export { startContainerWorker } from "./start_container_worker.ts";
export type {
  ContainerWorker,
  StartContainerWorkerOptions,
} from "./start_container_worker.ts";
export type {
  ContainerProcess,
  StartContainerProcessOptions,
} from "./start_container_process.ts";
export { RealtimeClock } from "./realtime_clock.ts";
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
export type { Address } from "../channel/address.ts";
// Agent proxies are remote proxies: bounded per call with withOptions, and
// handlers read their caller's signal with callContext.
export { callContext, withOptions } from "../rpc/mod.ts";
export type {
  CallContext,
  CallOptions,
  DynamicRemote,
  ExposableFunction,
  Remote,
  RpcTelemetryOptions,
  TelemetryAttributes,
  TelemetryMeterProvider,
  TelemetryTracerProvider,
} from "../rpc/mod.ts";
