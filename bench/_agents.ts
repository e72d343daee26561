// Agents and services used by the end-to-end benchmark (both processes).
import { Agent, expose } from "../mod.ts";

/** An agent exposing `add`, the call every agent scenario makes. */
export class Calc extends Agent {
  @expose
  add(a: number, b: number): number {
    return a + b;
  }
}

/** An RPC service exposing `add`. */
export class MathService {
  @expose
  add(a: number, b: number): number {
    return a + b;
  }
}

/** The smallest agent: what "100 k agents in one container" creates. */
export class Tiny extends Agent {
  @expose
  ping(): string {
    return "pong";
  }
}
