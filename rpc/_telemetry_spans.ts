// What the spans of calls and connections are made with: the tracer of a
// provider (none if it would record nothing), the attributes that say who
// the peer is, and how a failed span is marked.
import {
  type Attributes,
  ProxyTracerProvider,
  type Span,
  SpanStatusCode,
  trace,
  type Tracer,
  type TracerProvider,
} from "npm:@opentelemetry/api@^1.9.0";
import { RemoteError } from "../errors.ts";
import type { RpcTelemetryOptions } from "./telemetry_options.ts";
import { errorType, SCOPE } from "./_telemetry_metrics.ts";

/** The tracer of a provider, or undefined if it would record nothing. */
export function tracerOf(provider: TracerProvider): Tracer | undefined {
  // The global default before anything is registered: a proxy to nothing.
  if (
    provider instanceof ProxyTracerProvider &&
    provider.getDelegateTracer(SCOPE) === undefined
  ) {
    return undefined;
  }
  return provider.getTracer(SCOPE);
}

/** The attributes that say who the peer is, from `Channel.peer`. */
export function peerAttributes(name: string, client: boolean): Attributes {
  // A container address names its transport: `tcp://host:port`.
  const peer = name.startsWith("tcp://") ? name.slice(6) : name;
  if (peer.startsWith("unix:")) {
    return {
      "network.transport": "unix",
      "network.peer.address": peer.slice(5),
      ...(client ? { "server.address": peer.slice(5) } : {}),
    };
  }
  const match = /^\[?([^\]]*)\]?:(\d+)$/.exec(peer);
  if (match === null) return { "network.peer.address": peer };
  const port = Number(match[2]);
  return {
    "network.peer.address": match[1],
    "network.peer.port": port,
    ...(client
      ? { "server.address": match[1], "server.port": port }
      : { "client.address": match[1], "client.port": port }),
  };
}

/** Marks a span failed with `error`: `error.type`, status, exception event. */
export function setFailed(span: Span, error: unknown): void {
  span.setAttribute("error.type", errorType(error));
  if (error instanceof RemoteError) {
    span.setAttribute("aiomas.remote_error.type", error.remoteName);
  }
  if (error instanceof Error) span.recordException(error);
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

/** The tracer of `settings`' provider (typed structurally there), or the global one's. */
export function tracerFrom(settings: RpcTelemetryOptions): Tracer | undefined {
  return tracerOf(
    (settings.tracerProvider as TracerProvider | undefined) ??
      trace.getTracerProvider(),
  );
}
