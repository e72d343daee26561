import type { Transport } from "../channel/transport.ts";
import type { CodecClass } from "../codecs/codec.ts";
import { describe } from "../codecs/serializer_registry.ts";
import type { Agent } from "./agent.ts";
import type { Container } from "./container.ts";

/** What a container lets its agents and in-process peers do, kept off its public API. */
export interface ContainerInternals {
  /** Registers an agent and returns its id. */
  register(agent: Agent): string;
  /** The id (a number) the next agent registered gets. */
  nextAid(): number;
  /**
   * Uses `transport` as the connection to the container at `addr` (a link
   * to or from a Worker): both ends serve their container over it. The
   * promise settles (never rejects) when the connection closes.
   */
  attach(addr: string, transport: Transport): Promise<void>;
  /**
   * Runs `task` when the container shuts down, before its connections
   * close (e.g. to stop the Workers it started). Returns a function that
   * unregisters it. Throws a `ConnectionClosedError` once the shutdown has
   * begun (the task would never run).
   */
  onShutdown(task: () => Promise<void>): () => void;
  /** Throws a `ConnectionClosedError` once the shutdown has begun. */
  checkOpen(): void;
  /** The class names of the container's own serializers (not the date's). */
  serializerNames(): string[];
  /** The container's codec class: the one a container it starts must use. */
  readonly codec: CodecClass;
  /** The container's `maxFrameSize` option, which a container it starts takes too. */
  readonly maxFrameSize: number | undefined;
}

/** Each container's internals, set by its constructor. */
export const internals: WeakMap<Container, ContainerInternals> = new WeakMap();

/**
 * The internals of `container`, which a user passed where a Container is
 * expected.
 *
 * @param container What was passed.
 * @param what Who takes it, for the message, e.g. `"new Echo()"`.
 * @throws {TypeError} If it is not a Container; for a promise (of one),
 *   saying that an `await` is missing.
 */
export function internalsOf(
  container: unknown,
  what: string,
): ContainerInternals {
  const found = internals.get(container as Container);
  if (found !== undefined) return found;
  if (
    (typeof container === "object" || typeof container === "function") &&
    container !== null &&
    typeof (container as { then?: unknown }).then === "function"
  ) {
    throw new TypeError(
      `${what} takes a Container, not a Promise: did you forget \`await\` on Container.create(...)?`,
    );
  }
  const shown = container == null ? String(container) : describe(container);
  throw new TypeError(
    shown === "a Container"
      ? `${what} takes a Container of the same copy of the library: this one comes from another (two versions or import paths of @aiomas/aiomas); import Agent and Container from one module`
      : `${what} takes a Container, got ${shown}`,
  );
}
