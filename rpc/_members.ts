// How a service finds its members without running code of the object:
// built-in prototypes hold nothing exposed, and a method bound in the
// constructor is the method it binds.
import { boundMethod, exposedInfo, type ExposeOptions } from "./expose.ts";

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
 * The options of the exposed method that `value`, an own property of
 * `holder`, is bound from (`this.m = this.m.bind(this)` in a constructor,
 * which shadows it): made by the method's `bind` with `holder` as `this`
 * and no arguments, and the method the prototypes hold under that name.
 * Undefined for anything else, which stays hidden.
 */
export function boundExposed(
  holder: object,
  name: string,
  value: unknown,
): ExposeOptions | undefined {
  const bound = boundMethod(value);
  if (bound === undefined || bound.thisArg !== holder) return undefined;
  for (
    let o: object | null = Object.getPrototypeOf(holder);
    o !== null && !isBuiltIn(o);
    o = Object.getPrototypeOf(o)
  ) {
    const descriptor = Object.getOwnPropertyDescriptor(o, name);
    if (descriptor === undefined) continue;
    return descriptor.value === bound.method
      ? exposedInfo(bound.method)
      : undefined;
  }
  return undefined;
}
