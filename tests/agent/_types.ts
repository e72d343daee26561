// A custom type and an agent that uses it, for containers made in Workers
// and processes: they import this module (`serializers` by spec, the agent
// by spawn spec).
import { Agent, expose, serializable } from "../../mod.ts";

/** A point: a class that needs a serializer to travel. */
export class Pt {
  constructor(public x: number, public y: number) {}
}

/** The serializers of both ends. */
export const serializers = [serializable(Pt, ["x", "y"])];

/** Not a list of serializers, for the error test. */
export const notSerializers = { Pt };

/** Moves points and tells what it received. */
export class Mover extends Agent {
  @expose
  move(p: Pt, dx: number): Pt {
    return new Pt(p.x + dx, p.y);
  }

  @expose
  isPt(value: unknown): boolean {
    return value instanceof Pt;
  }
}
