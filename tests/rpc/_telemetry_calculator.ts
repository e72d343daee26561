// Shared by the telemetry_*_test.ts files of RPC calls: a calculator
// service, a client and a server RpcClient on a memory pair, and `one`, the
// single span of a kind.
import assert from "node:assert/strict";
import { SpanKind } from "npm:@opentelemetry/api@^1.9.0";
import type { ReadableSpan } from "npm:@opentelemetry/sdk-trace-base@^2.12.1";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import {
  RpcClient,
  type RpcTelemetryOptions,
  ServiceDict,
} from "../../rpc/mod.ts";

export function valueError(message: string): Error {
  const error = new Error(message);
  error.name = "ValueError";
  return error;
}

export const calculator = new ServiceDict({
  add: (a: number, b: number) => a + b,
  fail: () => {
    throw valueError("no");
  },
  later: async (a: number) => {
    await Promise.resolve();
    return a * 2;
  },
});

export interface Calculator {
  add(a: number, b: number): number;
  fail(): never;
  later(a: number): Promise<number>;
}

/** A client and a server RpcClient on a memory pair. */
export function memoryPair(
  service: object,
  clientTelemetry: RpcTelemetryOptions | false | undefined,
  serverTelemetry: RpcTelemetryOptions | false | undefined,
): [RpcClient<Calculator>, RpcClient] {
  const [a, b] = createMemoryPair();
  const server = new RpcClient(new Channel(b), {
    service,
    telemetry: serverTelemetry,
  });
  const client = new RpcClient<Calculator>(new Channel(a), {
    telemetry: clientTelemetry,
  });
  return [client, server];
}

export function one(spans: ReadableSpan[], kind: SpanKind): ReadableSpan {
  const found = spans.filter((span) => span.kind === kind);
  assert.equal(found.length, 1, `one span of kind ${SpanKind[kind]}`);
  return found[0];
}
