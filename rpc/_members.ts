// How a service finds its members without running code of the object:
// built-in prototypes hold nothing exposed, and a method bound in the
// constructor is the method it binds.
import { exposedInfo, type ExposeOptions } from "./expose.ts";

const BUILT_IN_PROTOTYPES = new Set<object>([
  Object.prototype,
  Function.prototype,
  Array.prototype,
]);

/** Whether `o` is a built-in prototype, which holds nothing exposed. */
export function isBuiltIn(o: object): boolean {
  return BUILT_IN_PROTOTYPES.has(o);
}

/**
 * The options of an exposed method that `value`, an own property of
 * `holder`, binds (`this.m = this.m.bind(this)` in a constructor, which
 * shadows it): a function named `bound m` in front of an exposed method
 * `m` of a prototype. Undefined for anything else, which stays hidden.
 */
export function boundExposed(
  holder: object,
  name: string,
  value: unknown,
): ExposeOptions | undefined {
  const bound = functionName(value);
  if (bound === undefined || !bound.startsWith("bound ")) return undefined;
  for (
    let o: object | null = Object.getPrototypeOf(holder);
    o !== null && !isBuiltIn(o);
    o = Object.getPrototypeOf(o)
  ) {
    const descriptor = Object.getOwnPropertyDescriptor(o, name);
    if (descriptor === undefined) continue;
    const method = descriptor.value;
    const options = exposedInfo(method);
    return options !== undefined && bound === `bound ${functionName(method)}`
      ? options
      : undefined;
  }
  return undefined;
}

/** A function's own `name`, read without running a getter. */
function functionName(value: unknown): string | undefined {
  if (typeof value !== "function") return undefined;
  const name = Object.getOwnPropertyDescriptor(value, "name")?.value;
  return typeof name === "string" ? name : undefined;
}
