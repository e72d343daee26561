// Shared by the telemetry_*_test.ts files (split from telemetry_test.ts): the
// agents they call and helpers to pick out ports and spans.
import assert from "node:assert/strict";
import type { ReadableSpan } from "npm:@opentelemetry/sdk-trace-base@^2.12.1";
import { Agent, type Container } from "../../agent/mod.ts";
import { callContext, expose } from "../../rpc/mod.ts";

export const LOCAL = { hostname: "127.0.0.1", port: 0 };

function valueError(message: string): Error {
  const error = new Error(message);
  error.name = "ValueError";
  return error;
}

/** What `Callee.keep` calls: a proxy of an agent with `echo`. */
interface Echoer {
  echo(value: number): number | Promise<number>;
}

export class Callee extends Agent {
  /** Resolved by the test to let `hold` answer. */
  release = Promise.withResolvers<void>();
  holding = Promise.withResolvers<void>();
  /** A proxy of an agent elsewhere, kept by `keep`. */
  kept: Echoer | undefined;

  @expose
  echo(value: number): number {
    return value;
  }

  @expose
  fail(): never {
    throw valueError("no");
  }

  @expose
  async hold(): Promise<string> {
    this.holding.resolve();
    await this.release.promise;
    return "held";
  }

  /** Keeps `agent` and calls it. */
  @expose
  async keep(agent: Echoer): Promise<number> {
    this.kept = agent;
    return await agent.echo(1);
  }

  /** Whether its call context is there, and its signal not aborted. */
  @expose({ context: true })
  async context(): Promise<boolean> {
    await Promise.resolve();
    return !callContext().signal.aborted;
  }

  /** Calls the kept agent again. */
  @expose
  async callKept(): Promise<number> {
    return await this.kept!.echo(2);
  }
}

/** Calls other agents while serving a call. */
export class Relay extends Agent {
  @expose
  async relay(url: string, value: number): Promise<number> {
    const callee = await this.container.connect<Callee>(url);
    return await callee.echo(value);
  }

  /** Hands itself to the agent at `url`, which calls it back. */
  @expose
  async handOver(url: string): Promise<number> {
    const callee = await this.container.connect<Callee>(url);
    return await callee.keep(this);
  }

  @expose
  echo(value: number): number {
    return value;
  }
}

export function port(container: Container): number {
  return Number(/:(\d+)\/$/.exec(container.addr)![1]);
}

export function one(spans: ReadableSpan[]): ReadableSpan {
  assert.equal(spans.length, 1, `one span, not ${spans.length}`);
  return spans[0];
}
