// Shared by the container_*_test.ts files (split from container_test.ts):
// the agents they call and helpers for addresses and temporary directories.
import assert from "node:assert/strict";
import { Agent, type DynamicRemote } from "../../agent/mod.ts";
import { expose } from "../../rpc/mod.ts";

export const LOCAL = { hostname: "127.0.0.1", port: 0 };
export const DAY = 24 * 60 * 60 * 1000;

export class Point {
  constructor(public x: number, public y: number) {}
}

export class Caller extends Agent {
  @expose
  ping(): string {
    return "pong";
  }
}

export class Callee extends Agent {
  /** Resolved when `wait` was entered; `gate` lets it return. */
  entered = Promise.withResolvers<void>();
  gate = Promise.withResolvers<void>();
  /** What `keep` received, to check that the caller's value is not shared. */
  kept: unknown;

  @expose
  service(value: unknown): unknown {
    return value;
  }

  @expose
  // `caller` is typed as callers pass it (an agent); it arrives as a proxy.
  async call_me_back(caller: Agent, date: Date): Promise<unknown[]> {
    const proxy = caller as unknown as DynamicRemote;
    return [await proxy.ping(), new Date(date.getTime() + DAY)];
  }

  @expose
  describe(value: unknown): unknown {
    return {
      text: String(value),
      type: typeof value,
      isAgent: value instanceof Agent,
      isDate: value instanceof Date,
      isPoint: value instanceof Point,
    };
  }

  @expose
  keep(value: { x: number; list: number[] }): { x: number; list: number[] } {
    this.kept = value;
    value.x = 99;
    value.list.push(4);
    return value;
  }

  @expose
  fail(message: string): never {
    throw new RangeError(message);
  }

  @expose
  unsendable(): unknown {
    return { callback: () => {} };
  }

  @expose
  self(): unknown {
    return this;
  }

  @expose
  repeat(text: string, count: number): string {
    return text.repeat(count);
  }

  @expose
  async wait(): Promise<string> {
    this.entered.resolve();
    await this.gate.promise;
    return "done";
  }
}

export class Other extends Agent {
  @expose
  service(value: unknown): unknown {
    return ["other", value];
  }
}

export function portOf(addr: string): number {
  const match = /^tcp:\/\/127\.0\.0\.1:(\d+)\/$/.exec(addr);
  assert.ok(match, `not a TCP container address: ${addr}`);
  return Number(match[1]);
}

export async function withTempDir(
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "aiomas-agent-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

export const isLookupError = (aid: string) => (error: unknown) => {
  assert.ok(error instanceof Error);
  assert.equal(error.name, "LookupError");
  assert.ok(error.message.includes(`"${aid}"`), error.message);
  return true;
};
