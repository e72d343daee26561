// Shared by the manager_*_test.ts files: the fixture agents' spawn specs, a
// managed container and RemoteError matching.
import assert from "node:assert/strict";
import {
  Container,
  type DynamicRemote,
  type ExternalClock,
  Manager,
} from "../../agent/mod.ts";
import { RemoteError } from "../../errors.ts";

export const LOCAL = { hostname: "127.0.0.1", port: 0 };
export const AGENTS_URL = new URL(
  "../fixtures/agents/agents.ts",
  import.meta.url,
);
export const spec = (name: string) => `${AGENTS_URL.href}#${name}`;

/** Calls `spawn` through a manager proxy; the agent arrives as a proxy. */
export async function spawn(
  manager: { spawn(spec: string, ...args: unknown[]): Promise<unknown> },
  spec: string,
  ...args: unknown[]
): Promise<[DynamicRemote, string]> {
  return await manager.spawn(spec, ...args) as [DynamicRemote, string];
}

/** A matcher for `assert.rejects`: a RemoteError `name: message…`. */
export const remote = (name: string, message: RegExp) => (error: unknown) => {
  assert.ok(error instanceof RemoteError, String(error));
  assert.equal(error.remoteName, name, error.message);
  assert.match(error.remoteMessage, message);
  return true;
};

/** A managed container and a master container connected to its manager. */
export async function managed(
  options: {
    clock?: ExternalClock;
    base?: string;
    allowSpawn?: readonly string[];
  } = {},
) {
  const stopped = Promise.withResolvers<void>();
  const container = await Container.create(LOCAL, { clock: options.clock });
  const manager = new Manager(container, {
    base: options.base,
    allowSpawn: options.allowSpawn,
    onStop: stopped.resolve,
  });
  const master = await Container.create(LOCAL);
  const proxy = await master.connect<Manager>(manager.addr);
  return {
    container,
    manager,
    master,
    proxy,
    stopped: stopped.promise,
    async [Symbol.asyncDispose]() {
      await master.shutdown();
      await container.shutdown();
    },
  };
}
