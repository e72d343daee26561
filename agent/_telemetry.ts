import {
  type Context,
  context,
  createContextKey,
} from "npm:@opentelemetry/api@^1.9.0";
import { type ConnectionTelemetry, localTelemetry } from "../rpc/_telemetry.ts";
import type {
  RpcTelemetryOptions,
  TelemetryAttributes,
} from "../rpc/telemetry_options.ts";
import { JsonCodec } from "../codecs/json_codec.ts";
import type { Clock } from "./clock.ts";
import type { ContainerOptions } from "./container_options.ts";
import { ExternalClock } from "./external_clock.ts";

/** The context value naming the agent whose call is being served. */
const SERVING = createContextKey("aiomas.agent.serving");

/** The agent id of a call path `agents/<aid>/…`. */
const AGENT_PATH = /^agents\/([^/]+)\//;

/** What a container records of its calls, decided once at its creation. */
export interface AgentTelemetry {
  /**
   * The options of the connection to or from the container at `peer`
   * (its address, with a trailing slash); its `RpcClient` decides whether
   * it records.
   */
  connection(peer: string): RpcTelemetryOptions | false;
  /**
   * The telemetry of calls between the container's own agents, or
   * undefined when nothing is recorded (then nothing else is done either).
   */
  readonly local: ConnectionTelemetry | undefined;
}

/**
 * The telemetry of the container at `addr`: every span gets
 * `aiomas.container`, `aiomas.sim_time` under an `ExternalClock` (unless
 * `options.simTime` says otherwise), and a call to an agent
 * `aiomas.agent.callee`, plus `aiomas.agent.caller` where the caller is
 * known (see {@linkcode markServing}).
 */
export function agentTelemetry(
  addr: string,
  clock: Clock,
  { telemetry: options, codec = JsonCodec }: ContainerOptions,
): AgentTelemetry {
  if (options === false) {
    return { connection: () => false, local: undefined };
  }
  const user = options ?? {};
  const simTime = user.simTime ??
    (clock instanceof ExternalClock ? () => clock.time() : undefined);
  const attributes = { "aiomas.container": addr, ...user.attributes };
  const withCallee = (container: string): RpcTelemetryOptions => ({
    ...user,
    attributes,
    simTime,
    callAttributes: (method, side) =>
      callAttributes(
        side === "client" ? container : addr,
        method,
        side,
        user.callAttributes,
      ),
  });
  // `tcp://host:port/` names the peer as a connection does: no slash.
  const local = localTelemetry(
    addr.replace(/\/$/, ""),
    new codec().name,
    withCallee(addr),
  );
  // Nothing records now: the connections opened later record nothing either.
  if (local === undefined) return { connection: () => false, local };
  return { connection: (peer) => withCallee(peer), local };
}

function callAttributes(
  container: string,
  method: string,
  side: "client" | "server",
  user: RpcTelemetryOptions["callAttributes"],
): TelemetryAttributes | undefined {
  const own = user?.(method, side);
  const aid = AGENT_PATH.exec(method)?.[1];
  // A server span of a connection starts in the root context: the caller
  // is known only when the call took no connection.
  const caller = context.active().getValue(SERVING);
  if (aid === undefined && caller === undefined) return own;
  const attributes: Record<string, TelemetryAttributes[string]> = {};
  if (aid !== undefined) {
    attributes["aiomas.agent.callee"] = container + aid;
  }
  if (typeof caller === "string") attributes["aiomas.agent.caller"] = caller;
  return own === undefined ? attributes : { ...attributes, ...own };
}

/**
 * `fn` (a method of the agent at `agent`) as a function that runs with
 * the agent marked as the one serving, so that the calls it makes (with
 * a context manager registered, also after `await`) name it as their
 * `aiomas.agent.caller`.
 */
export function markServing(
  agent: string,
  fn: (...args: unknown[]) => unknown,
): (...args: unknown[]) => unknown {
  return function (this: unknown, ...args: unknown[]): unknown {
    const marked: Context = context.active().setValue(SERVING, agent);
    return context.with(marked, fn, this, ...args);
  };
}
