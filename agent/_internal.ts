import type { Transport } from "../channel/transport.ts";
import type { Agent } from "./agent.ts";
import type { Container } from "./container.ts";

/** What a container lets its agents and in-process peers do, kept off its public API. */
export interface ContainerInternals {
  /** Registers an agent and returns its id. */
  register(agent: Agent): string;
  /** Serves an in-memory connection from another container in this process. */
  acceptLocal(transport: Transport): void;
  /**
   * Uses `transport` as the connection to the container at `addr` (a link
   * to or from a Worker): both ends serve their container over it.
   */
  attach(addr: string, transport: Transport): void;
  /**
   * Runs `task` when the container shuts down, before its connections
   * close (e.g. to stop the Workers it started). Returns a function that
   * unregisters it.
   */
  onShutdown(task: () => Promise<void>): () => void;
}

/** Each container's internals, set by its constructor. */
export const internals: WeakMap<Container, ContainerInternals> = new WeakMap();
