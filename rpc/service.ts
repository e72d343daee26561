import { LookupError } from "../errors.ts";
import { clipPeerText } from "../channel/_message.ts";
// By type only: a field's value (which may be a secret) never goes to the peer.
import { describe } from "../codecs/serializer_registry.ts";
import { exposedField, exposedInfo, type ExposeOptions } from "./expose.ts";
import { boundExposed, isBuiltIn } from "./_members.ts";

/** A resolved call target: the exposed function and what to call it on. */
export interface Resolved {
  /** The exposed function. */
  readonly fn: (...args: unknown[]) => unknown;
  /** What to call it on (the service object; undefined in a `ServiceDict`). */
  readonly thisArg: unknown;
  /** What `expose` recorded for it. */
  readonly options: ExposeOptions;
  /** The name used in error messages, e.g. `"Sub.mul"`. */
  readonly qualname: string;
}

/**
 * What a name on a service is: an exposed function, a sub-service, an
 * exposed field holding neither (`value`, e.g. `null`), something that
 * exists but is not exposed (`hidden`), or nothing.
 * `owner` is the object the member was found on (the instance or a
 * prototype), so that error messages name the class that defines it.
 */
export type ServiceMember =
  | {
    kind: "function";
    fn: (...args: unknown[]) => unknown;
    options: ExposeOptions;
    owner?: object;
  }
  | { kind: "service"; service: Service }
  | { kind: "value"; value: unknown; owner?: object }
  | { kind: "hidden"; owner?: object }
  | undefined;

const services = new WeakMap<object, Service>();

/**
 * The router of an object: what remote callers may reach on it. Only
 * members marked with {@linkcode expose} are reachable: exposed methods are
 * callable, exposed fields are sub-services. Prototype members of
 * `Object`, getters, symbols and everything not exposed are refused with
 * aiomas's `LookupError` texts.
 *
 * Any object can be served directly; `Service.of(obj)` is what the RPC
 * layer uses. `new Service(this)` in a class is the explicit form.
 *
 * @example
 * ```ts
 * import { expose, Service } from "@aiomas/aiomas";
 * import assert from "node:assert/strict";
 *
 * class MathServer {
 *   router = new Service(this);
 *   @expose add(a: number, b: number): number {
 *     return a + b;
 *   }
 *   secret(): string {
 *     return "no";
 *   }
 * }
 * const router = Service.of(new MathServer());
 * const { fn, thisArg } = router.resolve("add");
 * assert.equal(fn.call(thisArg, 3, 4), 7);
 * assert.throws(() => router.resolve("secret"), { message: '"MathServer.secret" is not exposed' });
 * assert.throws(() => router.resolve("nope"), { message: 'Name "nope" not found in ""' });
 * assert.throws(() => router.resolve("add/x"), {
 *   message: '"MathServer.add" is a function, not a service: cannot call "add/x"',
 * });
 * ```
 */
export class Service {
  /** The object whose exposed members this router serves. */
  readonly target: object;
  /** Paths of this turn's `pathOf`, by router and by service object. */
  #paths: Map<object, string> | null = null;
  #resetQueued = false;

  /**
   * Creates the router of `target`.
   *
   * @param target The object (its class's `@expose` members are served).
   */
  constructor(target: object) {
    this.target = target;
    services.set(target, this);
  }

  /**
   * The router of a value: the value itself if it is a `Service`, else the
   * one made for it before, else a new one.
   *
   * @param value A service object, a `Service` or a `ServiceDict`.
   * @returns Its router.
   */
  static of(value: object): Service {
    if (value instanceof Service) return value;
    return services.get(value) ?? new Service(value);
  }

  /**
   * Finds the exposed function at a path such as `"sub/mul"`.
   *
   * @param path Names joined by `/`.
   * @returns The function, what to call it on, and its expose options.
   * @throws {LookupError} If a name is not found or not exposed (aiomas's
   *   message texts: `Name "x" not found in "sub"`, `"Cls.x" is not exposed`),
   *   or if a function stands where the path needs a service
   *   (`"Cls.add" is a function, not a service: cannot call "add/x"`),
   *   or if an exposed field holds neither a service nor a function
   *   (`"Cls.x" is null, not a service: cannot call "x/y"`).
   */
  resolve(path: string): Resolved {
    // Walked without splitting: this runs for every call.
    let sub: Service | null = null;
    let start = 0;
    for (
      let slash = path.indexOf("/");
      slash !== -1;
      slash = path.indexOf("/", start)
    ) {
      const parent: Service = sub ?? this;
      const part = path.slice(start, slash);
      const member: ServiceMember = parent.member(part);
      if (member?.kind === "function") {
        // The name exists, so "not found" would mislead.
        throw notAService(parent.qualname(part, member.owner), path);
      }
      if (member?.kind === "value") {
        throw notAService(parent.qualname(part, member.owner), path, member);
      }
      if (member?.kind !== "service") throw notFound(path, start, slash);
      sub = member.service;
      start = slash + 1;
    }
    const router = sub ?? this;
    const name = start === 0 ? path : path.slice(start);
    const member = router.member(name);
    if (member === undefined) throw notFound(path, start, path.length);
    if (member.kind === "value") {
      throw lookupError(
        `"${router.qualname(name, member.owner)}" is ${
          describe(member.value)
        }, not a function`,
      );
    }
    if (member.kind !== "function") {
      const owner = member.kind === "hidden" ? member.owner : undefined;
      throw lookupError(`"${router.qualname(name, owner)}" is not exposed`);
    }
    return new ResolvedMember(
      member.fn,
      router.thisArg,
      member.options,
      () => router.qualname(name, member.owner),
    );
  }

  /**
   * Finds the path of a sub-service reachable from this router, for
   * passing it to the peer as a reference. The tree is walked into an
   * index kept for the rest of the turn, so a message with many references
   * walks it once; a path found is checked against the tree as it is now,
   * and a miss walks again, so a field changed meanwhile is seen.
   *
   * @param value A service object or router.
   * @returns Its path (`""` for this router), or undefined if unreachable.
   */
  pathOf(value: object): string | undefined {
    let paths = this.#paths;
    if (paths !== null) {
      const path = paths.get(value);
      if (path !== undefined && this.#at(path, value)) return path;
    }
    paths = this.#paths = this.#walk();
    if (!this.#resetQueued) {
      this.#resetQueued = true;
      queueMicrotask(() => {
        this.#paths = null;
        this.#resetQueued = false;
      });
    }
    return paths.get(value);
  }

  /** Whether `path` leads to `value` (as router or service object). */
  #at(path: string, value: object): boolean {
    let router: Service | undefined;
    if (path !== "") {
      for (const name of path.split("/")) {
        const member = (router ?? this).member(name);
        if (member?.kind !== "service") return false;
        router = member.service;
      }
    }
    const found = router ?? this;
    return found === value || found.target === value;
  }

  /** The path of every router and service object, shortest first. */
  #walk(): Map<object, string> {
    const paths = new Map<object, string>();
    const queue: [Service, string][] = [[this, ""]];
    for (let i = 0; i < queue.length; i++) {
      const [router, path] = queue[i];
      if (paths.has(router)) continue;
      paths.set(router, path);
      if (!paths.has(router.target)) paths.set(router.target, path);
      for (const name of router.memberNames()) {
        const member = router.member(name);
        if (member?.kind === "service") {
          queue.push([member.service, path === "" ? name : `${path}/${name}`]);
        }
      }
    }
    return paths;
  }

  /**
   * What exposed functions are called on.
   *
   * @returns The target object.
   */
  protected get thisArg(): unknown {
    return this.target;
  }

  /**
   * The names that may be exposed members.
   *
   * @returns The own and inherited property names of the target.
   */
  protected memberNames(): Iterable<string> {
    const names = new Set<string>();
    for (
      let o: object | null = this.target;
      o !== null && !isBuiltIn(o);
      o = Object.getPrototypeOf(o)
    ) {
      for (const name of Object.getOwnPropertyNames(o)) names.add(name);
    }
    return names;
  }

  /**
   * Looks up one name without running getters or reading from built-in
   * prototypes.
   *
   * @param name One part of a path.
   * @returns What the name is.
   */
  protected member(name: string): ServiceMember {
    if (name === "") return undefined;
    for (
      let o: object | null = this.target;
      o !== null;
      o = Object.getPrototypeOf(o)
    ) {
      // Object.prototype and friends hold nothing exposed: never read from them.
      if (isBuiltIn(o)) {
        return name in o ? { kind: "hidden", owner: o } : undefined;
      }
      const descriptor = Object.getOwnPropertyDescriptor(o, name);
      if (descriptor === undefined) continue;
      if (!("value" in descriptor)) return { kind: "hidden", owner: o };
      const value = descriptor.value;
      const options = exposedInfo(value);
      if (options !== undefined) {
        return { kind: "function", fn: value, options, owner: o };
      }
      // A field is the instance's own: a prototype's member of its name
      // (the field deleted) is not exposed by it.
      const field = o === this.target
        ? exposedField(this.target, name)
        : undefined;
      if (field !== undefined && typeof value === "function") {
        // `@expose add = (a, b) => a + b`: a function held by a field.
        return { kind: "function", fn: value, options: field, owner: o };
      }
      if (field !== undefined && typeof value === "object" && value !== null) {
        return { kind: "service", service: Service.of(value) };
      }
      if (field !== undefined) return { kind: "value", value, owner: o };
      const bound = boundExposed(o, name, value);
      if (bound !== undefined) {
        return { kind: "function", fn: value, options: bound, owner: o };
      }
      return { kind: "hidden", owner: o };
    }
    return undefined;
  }

  /**
   * The qualified name of a member for error messages. Like Python's
   * `__qualname__`, it names the class that defines the member, so an
   * inherited method is `"Base.m"`.
   *
   * @param name The member's name.
   * @param owner Where the member was found: the instance or a prototype.
   * @returns `ClassName.name`.
   */
  protected qualname(name: string, owner: object = this.target): string {
    const className = (owner as { constructor?: { name?: string } })
      .constructor?.name;
    return className ? `${className}.${name}` : name;
  }
}

/** A {@linkcode Resolved} whose name is only made when asked for (errors). */
class ResolvedMember implements Resolved {
  readonly fn: (...args: unknown[]) => unknown;
  readonly thisArg: unknown;
  readonly options: ExposeOptions;
  #name: () => string;

  constructor(
    fn: (...args: unknown[]) => unknown,
    thisArg: unknown,
    options: ExposeOptions,
    name: () => string,
  ) {
    this.fn = fn;
    this.thisArg = thisArg;
    this.options = options;
    this.#name = name;
  }

  get qualname(): string {
    return this.#name();
  }
}

/** The error for the name at `path[start..end)`, which is not there. */
function notFound(path: string, start: number, end: number): LookupError {
  const name = clipPeerText(path.slice(start, end));
  const parent = clipPeerText(path.slice(0, Math.max(0, start - 1)));
  return lookupError(`Name "${name}" not found in "${parent}"`);
}

/**
 * The error for a path that goes on past `qualname`, a function or (given
 * `member`) an exposed field's value.
 */
function notAService(
  qualname: string,
  path: string,
  member?: { value: unknown },
): LookupError {
  const what = member === undefined ? "a function" : describe(member.value);
  return lookupError(
    `"${qualname}" is ${what}, not a service: cannot call "${
      clipPeerText(path)
    }"`,
  );
}

/** A {@linkcode LookupError}: what Python peers see as their `LookupError`. */
export function lookupError(message: string): LookupError {
  return new LookupError(message);
}
