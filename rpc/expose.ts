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
/** Per object, its exposed fields and the options they were exposed with. */
const exposedFieldsOf = new WeakMap<object, Map<string, ExposeOptions>>();

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
 *   `remote.sub.mul(6, 7)` calls path `"sub/mul"`; a function in it is
 *   called as a method (`@expose add = (a, b) => a + b`).
 * - `@expose({ params: ["a", "b"] })` also binds keyword arguments by name.
 * - `@expose({ context: true })` lets the function call `callContext()`,
 *   whose `signal` aborts when its caller is gone.
 * - `expose(fn)` or `expose(fn, { params })` marks a plain function and
 *   returns it (functions in a `ServiceDict` are exposed anyway; this adds
 *   `params` to them).
 * - A method bound in the constructor, `this.m = this.m.bind(this)`, stays
 *   exposed (an exposed method's own `bind` records what it makes). Any
 *   other function in front of an exposed method hides it: one bound with
 *   arguments, to another object, or by `Function.prototype.bind.call`.
 *
 * @example
 * ```ts
 * import { Channel, createMemoryPair, expose, RpcClient } from "@aiomas/aiomas";
 * import assert from "node:assert/strict";
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
 *   secret(): string {
 *     return "not exposed";
 *   }
 * }
 * const [a, b] = createMemoryPair();
 * await using server = new RpcClient(new Channel(a), {
 *   service: new MathServer(),
 * });
 * await using client = new RpcClient<MathServer>(new Channel(b));
 * assert.equal(await client.remote.add(3, 4), 7);
 * // Keyword arguments by the declared params.
 * assert.equal(await client.call("sub/mul", [6], { b: 7 }), 42);
 * await assert.rejects(client.call("secret"), { name: "RemoteError" });
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
  // Before the options check: an accessor's value is a { get, set } object.
  if (isContext(second)) return mark(value, second, {});
  if (typeof value === "object" && value !== null) {
    const options = value as ExposeOptions;
    return (target: unknown, context: ExposeDecoratorContext) => {
      if (isLegacyKey(context)) throw legacyDecorator(context);
      return mark(target, context, options);
    };
  }
  return mark(value, undefined, second ?? {});
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

/**
 * Records `value` as exposed and returns what the decorator returns: the
 * value itself, or for a field the initializer that records the field.
 */
function mark(
  value: unknown,
  context: ExposeDecoratorContext | undefined,
  options: ExposeOptions,
): unknown {
  if (context !== undefined) checkMember(context);
  if (context?.kind === "field") {
    const name = String(context.name);
    // An initializer, not context.addInitializer: Deno (swc) runs a field's
    // addInitializer callbacks only in a class that also has a decorated
    // method (denoland/deno#22962).
    return function (this: unknown, initial: unknown): unknown {
      const target = this as object;
      let fields = exposedFieldsOf.get(target);
      if (fields === undefined) exposedFieldsOf.set(target, fields = new Map());
      fields.set(name, options);
      return initial;
    };
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
  // A function with a `bind` of its own keeps it (and is exposed bound
  // only by field or by name, not as a bound method).
  if (!Object.hasOwn(value, "bind")) {
    Object.defineProperty(value, "bind", {
      value: recordingBind,
      configurable: true,
      writable: true,
    });
  }
  return value;
}

/** What each function made by an exposed function's `bind` binds (see `boundMethod`). */
const boundMethods = new WeakMap<
  object,
  { method: (...args: unknown[]) => unknown; thisArg: unknown }
>();

/**
 * An exposed function's own `bind`, which records the functions it makes
 * without arguments: `this.m = this.m.bind(this)` in a constructor keeps
 * `m` exposed (see `rpc/_members.ts`).
 */
function recordingBind(
  this: (...args: unknown[]) => unknown,
  thisArg: unknown,
  ...args: unknown[]
): (...args: unknown[]) => unknown {
  const bound = Function.prototype.bind.call(this, thisArg, ...args);
  if (args.length === 0) boundMethods.set(bound, { method: this, thisArg });
  return bound;
}
Object.defineProperty(recordingBind, "name", { value: "bind" });

/**
 * The exposed function `fn` was made from by its `bind` (with a `this`
 * and no arguments), and that `this`; undefined for anything else.
 */
export function boundMethod(
  fn: unknown,
): { method: (...args: unknown[]) => unknown; thisArg: unknown } | undefined {
  return typeof fn === "function" ? boundMethods.get(fn) : undefined;
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

/**
 * The options `name` was exposed with if it is an exposed field of
 * `target` (a sub-service, or a function), else undefined.
 */
export function exposedField(
  target: object,
  name: string,
): ExposeOptions | undefined {
  return exposedFieldsOf.get(target)?.get(name);
}
