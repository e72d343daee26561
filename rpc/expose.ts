/** Options of {@linkcode expose}. */
export interface ExposeOptions {
  /**
   * The parameter names in order, so that keyword arguments from the peer
   * (the `kwargs` map of a call, e.g. Python's `mul(6, b=7)`) can be bound
   * by name. Without them, a call with keyword arguments is refused. They
   * list every parameter: a call with more positional arguments than
   * `params` is refused with a `TypeError`, as Python refuses it.
   */
  params?: readonly string[];
  /**
   * Whether the function reads its call's context with `callContext()`
   * (its `signal` aborts when the caller is gone). Only functions marked
   * so pay for it; it is not an argument, so proxy types and the wire are
   * unchanged.
   *
   * @default {false}
   */
  context?: boolean;
}

const EXPOSED: unique symbol = Symbol("aiomas.exposed");
const exposedFieldsOf = new WeakMap<object, Set<string>>();

/** The decorator contexts `expose` accepts: methods and fields. */
export type ExposeDecoratorContext =
  | ClassMethodDecoratorContext
  | ClassFieldDecoratorContext;

/** Any function that can be exposed. */
// deno-lint-ignore no-explicit-any
export type ExposableFunction = (...args: any[]) => unknown;

/**
 * Exposes a method, a sub-service field or a plain function to remote
 * callers. Nothing else of an object can be called over the network.
 *
 * - `@expose` on a method makes it callable: `remote.add(3, 4)`.
 * - `@expose` on a field makes the object in it a sub-service:
 *   `remote.sub.mul(6, 7)` calls path `"sub/mul"`.
 * - `@expose({ params: ["a", "b"] })` also binds keyword arguments by name.
 * - `@expose({ context: true })` lets the function call `callContext()`,
 *   whose `signal` aborts when its caller is gone.
 * - `expose(fn)` or `expose(fn, { params })` marks a plain function and
 *   returns it (functions in a `ServiceDict` are exposed anyway; this adds
 *   `params` to them).
 *
 * @example
 * ```ts
 * import { expose, ServiceDict } from "@aiomas/aiomas";
 *
 * class Sub {
 *   @expose({ params: ["a", "b"] })
 *   mul(a: number, b = 1): number {
 *     return a * b;
 *   }
 * }
 * class MathServer {
 *   @expose sub = new Sub();
 *   @expose add(a: number, b: number): number {
 *     return a + b;
 *   }
 * }
 * const service = new ServiceDict({ add: expose((a: number, b: number) => a + b) });
 * ```
 *
 * `expose` is a standard (TC39) decorator, which is what Deno compiles by
 * default; it refuses to run as a legacy one (`experimentalDecorators`).
 *
 * @param fn A plain function to mark.
 * @param options See {@linkcode ExposeOptions}.
 * @returns `fn`, marked as exposed.
 * @throws {TypeError} When applied to something that is not a method, field
 *   or function (a getter, a static or `#private` member, …), or when
 *   called as a legacy `experimentalDecorators` decorator.
 */
export function expose<T extends ExposableFunction>(
  fn: T,
  options?: ExposeOptions,
): T;
/**
 * `@expose` on a method.
 *
 * @param method The method.
 * @param context The decorator context.
 * @returns The method, marked as exposed.
 */
export function expose<T extends ExposableFunction>(
  method: T,
  context: ClassMethodDecoratorContext,
): T;
/**
 * `@expose` on a field: the object in it is a sub-service.
 *
 * @param field Always undefined for field decorators.
 * @param context The decorator context.
 */
export function expose(
  field: undefined,
  context: ClassFieldDecoratorContext,
): void;
/**
 * `@expose({ params })`: a decorator that also records parameter names.
 *
 * @param options See {@linkcode ExposeOptions}.
 * @returns The decorator.
 */
export function expose(
  options: ExposeOptions,
): <T>(value: T, context: ExposeDecoratorContext) => T;
export function expose(
  value: unknown,
  second?: ExposeDecoratorContext | ExposeOptions,
): unknown {
  // A legacy decorator gets (prototype, key, descriptor): key is a name.
  if (isLegacyKey(second)) throw legacyDecorator(second);
  if (typeof value === "object" && value !== null) {
    const options = value as ExposeOptions;
    return (target: unknown, context: ExposeDecoratorContext) => {
      if (isLegacyKey(context)) throw legacyDecorator(context);
      mark(target, context, options);
      return target;
    };
  }
  if (isContext(second)) mark(value, second, {});
  else mark(value, undefined, second ?? {});
  return value;
}

function isLegacyKey(value: unknown): value is string | symbol {
  return typeof value === "string" || typeof value === "symbol";
}

function legacyDecorator(key: string | symbol): TypeError {
  return new TypeError(
    `Cannot expose ${
      String(key)
    }: @expose was called as a legacy decorator. aiomas's @expose is a standard decorator: remove experimentalDecorators from compilerOptions`,
  );
}

function isContext(value: unknown): value is ExposeDecoratorContext {
  return typeof value === "object" && value !== null &&
    typeof (value as { kind?: unknown }).kind === "string";
}

function mark(
  value: unknown,
  context: ExposeDecoratorContext | undefined,
  options: ExposeOptions,
): void {
  if (context !== undefined) checkMember(context);
  if (context?.kind === "field") {
    const name = String(context.name);
    context.addInitializer(function (this: unknown) {
      const target = this as object;
      let names = exposedFieldsOf.get(target);
      if (names === undefined) exposedFieldsOf.set(target, names = new Set());
      names.add(name);
    });
    return;
  }
  if (typeof value !== "function") {
    throw new TypeError(
      "Cannot expose: only methods, fields and functions can be exposed",
    );
  }
  // Configurable: exposing a function again (e.g. with params) replaces
  // what was recorded instead of throwing "Cannot redefine property".
  Object.defineProperty(value, EXPOSED, {
    value: options.context === true
      ? { params: options.params, context: true }
      : { params: options.params },
    configurable: true,
  });
}

/**
 * @throws {TypeError} For what a remote call cannot reach: a getter,
 *   setter, accessor or class, a static or a `#private` member.
 */
function checkMember(context: ExposeDecoratorContext): void {
  const kind: string = context.kind;
  const what = kind !== "method" && kind !== "field"
    ? `${/^[aeiou]/.test(kind) ? "an" : "a"} ${kind}`
    : context.static
    ? "a static member"
    : context.private
    ? "a #private member"
    : undefined;
  if (what !== undefined) {
    throw new TypeError(
      `Cannot expose ${
        String(context.name)
      }: only methods, fields and functions can be exposed, not ${what}`,
    );
  }
}

/** What `expose` recorded for a function, or undefined if it is not exposed. */
export function exposedInfo(fn: unknown): ExposeOptions | undefined {
  return typeof fn === "function"
    ? (fn as { [EXPOSED]?: ExposeOptions })[EXPOSED]
    : undefined;
}

/** Whether `name` is an exposed sub-service field of `target`. */
export function isExposedField(target: object, name: string): boolean {
  return exposedFieldsOf.get(target)?.has(name) ?? false;
}
