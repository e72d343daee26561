import { describe } from "../codecs/serializer_registry.ts";
import { SerializationError } from "../errors.ts";
import type { DynamicRemote } from "./remote.ts";
import type { CallOptions } from "./with_options.ts";

/**
 * How a proxy sends a call. `options` are those its proxy was given with
 * `withOptions` (undefined for a plain proxy); a caller applies them (and
 * its own defaults, such as `RpcClientOptions.callTimeout`) to the call.
 */
export type Caller = (
  path: string,
  args: unknown[],
  options?: CallOptions,
) => Promise<unknown>;

/** What a proxy was made from, so `withOptions` can make its twin. */
interface RemoteInfo {
  readonly caller: Caller;
  readonly path: string;
  readonly label: string;
  readonly options: CallOptions | undefined;
}

/** A proxy's label, or how to make it from its path when first asked. */
export type Label = string | ((path: string) => string);

/**
 * What one proxy holds. A peer makes one with a reference of a dozen bytes,
 * so it is kept small: one object, a bound function and the proxy (with
 * their WeakMap entry and the path, about 1.3 × what `maxDecodedSize`
 * charges the reference's values), with the handler and the console hook
 * shared and the label and sub-path proxies made on first use.
 */
class Remote implements RemoteInfo {
  readonly caller: Caller;
  readonly path: string;
  readonly options: CallOptions | undefined;
  children: Map<string, DynamicRemote> | undefined = undefined;
  #label: Label;

  constructor(
    caller: Caller,
    path: string,
    label: Label,
    options: CallOptions | undefined,
  ) {
    this.caller = caller;
    this.path = path;
    this.#label = label;
    this.options = options;
  }

  get label(): string {
    if (typeof this.#label !== "string") this.#label = this.#label(this.path);
    return this.#label;
  }
}

/** Which connection each caller sends over (see {@linkcode sendsOver}). */
const owners = new WeakMap<Caller, object>();

/**
 * Records that `caller` sends over `connection` (any object that stands
 * for it), so that a proxy going back to its own peer is told apart.
 */
export function sendsOver(caller: Caller, connection: object): void {
  owners.set(caller, connection);
}

/** Proxies to what they were made from. */
const remotes = new WeakMap<object, Remote>();
const ignore = (): void => {};
const INSPECT = Symbol.for("Deno.customInspect");
/** What a proxy's target is called with to answer its label, not a call. */
const LABEL = Symbol("label");
/**
 * The prototype of every proxy's target: Deno's console shows a proxy's
 * target, not what the proxy answers, and calls this hook on it. Shared,
 * where a hook per proxy took 130 bytes more: the target (`invoke` bound
 * to its Remote) tells its label when called with {@linkcode LABEL}.
 */
const INSPECTABLE: object = Object.freeze(
  Object.create(Function.prototype, {
    [INSPECT]: {
      value(this: (label: typeof LABEL) => string): string {
        return this(LABEL);
      },
    },
  }),
);

/** The label of a sub-path's proxy. */
export function rpcLabel(path: string): string {
  return `RpcProxy('${path}')`;
}

/** The `set` trap of every proxy: nothing is set on a proxy. */
function refuse(): boolean {
  return false;
}

/**
 * A call through a proxy (`this` is its {@linkcode Remote}); its target is
 * this bound to it, which a proxy without an apply trap calls directly,
 * cheaper than a trap with an arguments array.
 */
function invoke(
  this: Remote,
  ...args: unknown[]
): Promise<unknown> | string | undefined {
  // Only INSPECTABLE's hook has the symbol.
  if (args[0] === LABEL) return this.label;
  // Called as then(resolve, reject): a peer's value held this proxy
  // under "then" and something awaited it. Refuse, or the await hangs.
  if (args.length === 2 && isResolver(args[0]) && isResolver(args[1])) {
    const error = new TypeError(
      `Cannot await ${this.label}: a remote proxy is not a thenable`,
    );
    (args[1] as (reason: unknown) => void)(error);
    const refused = Promise.reject(error);
    refused.catch(ignore);
    return refused;
  }
  if (this.path === "") {
    const refused = Promise.reject(
      new TypeError("Cannot call a remote service itself: name a method"),
    );
    refused.catch(() => {}); // As below: never an unhandled rejection.
    return refused;
  }
  const result = this.caller(this.path, args, this.options);
  // Code may call a proxy without awaiting it (e.g. a peer's value with
  // a proxy under "valueOf"): its failure must not be an unhandled
  // rejection, which ends a Deno process. Awaiting callers still see it.
  result.catch(ignore);
  return result;
}

/**
 * One of the functions `await` passes to a thenable: native and nameless
 * (a user's callbacks are neither, and are sent, or refused, as any
 * argument).
 */
function isResolver(value: unknown): boolean {
  return typeof value === "function" && value.name === "" &&
    NATIVE_CODE.test(Function.prototype.toString.call(value));
}

const NATIVE_CODE = /\{ \[native code\] \}$/;

/**
 * The most sub-path proxies a proxy keeps (all are dropped when it is
 * full): code may read as many names as it likes (`remote.items[id]`).
 */
const MAX_CHILDREN = 1024;

/** The handler of every proxy: its state is the proxy's {@linkcode Remote}. */
const HANDLER: ProxyHandler<object> = {
  get(_target, name, receiver) {
    // Not thenable, so that `await proxy` and returning it from async code work.
    // Nor a constructor: nothing named so can be exposed, and serializers
    // look up `value.constructor`. Nor JSON: JSON.stringify of a value
    // holding a proxy would call "toJSON" on the peer.
    if (name === "then" || name === "constructor" || name === "toJSON") {
      return undefined;
    }
    // The proxy itself, unless it is reached through a prototype chain or
    // Reflect.get with another receiver: then it has no members.
    const remote = remotes.get(receiver);
    if (remote === undefined) return undefined;
    if (name === "toString" || name === Symbol.toPrimitive) {
      return () => remote.label;
    }
    if (typeof name !== "string") return undefined;
    const children = remote.children ??= new Map();
    let child = children.get(name);
    if (child === undefined) {
      const path = remote.path;
      child = createRemote(
        remote.caller,
        path === "" ? name : `${path}/${name}`,
        rpcLabel,
        remote.options,
      );
      if (children.size >= MAX_CHILDREN) children.clear();
      children.set(name, child);
    }
    return child;
  },
  set: refuse,
  // A function's, as before the hook moved to INSPECTABLE; and kept, so
  // that no code can take the label from the console.
  getPrototypeOf: () => Function.prototype,
  setPrototypeOf: refuse,
  // Frozen, its target's prototype would have to be the answer above.
  preventExtensions: refuse,
};

/**
 * Makes a proxy whose property accesses extend the path and whose calls
 * send it through `caller`, with `options` (inherited by the proxies of
 * its sub-paths). `label` is what `String(proxy)` gives, or makes it from
 * the path.
 */
export function createRemote(
  caller: Caller,
  path: string,
  label: Label,
  options?: CallOptions,
): DynamicRemote {
  const remote = new Remote(caller, path, label, options);
  const target = invoke.bind(remote);
  Object.setPrototypeOf(target, INSPECTABLE);
  const proxy = new Proxy(target, HANDLER) as unknown as DynamicRemote;
  remotes.set(proxy, remote);
  return proxy;
}

/**
 * What `proxy` was made from, or undefined if it is not a remote proxy.
 *
 * @param proxy Any value.
 * @returns Its caller, path, label and call options.
 */
export function remoteInfo(proxy: unknown): RemoteInfo | undefined {
  // WeakMap.get answers undefined for primitives.
  return remotes.get(proxy as object);
}

/** Whether a value is a remote proxy. */
export function isRemote(value: unknown): boolean {
  return (typeof value === "function" || typeof value === "object") &&
    value !== null &&
    remotes.has(value);
}

/**
 * How a local object travels in a call: as its service path on this
 * connection, or not at all (a proxy belongs to its own connection, and
 * anything else needs a serializer).
 */
export function referencePath(
  path: string | undefined,
  value: object,
  connection?: object,
): string {
  if (path !== undefined) return path;
  const info = remoteInfo(value);
  if (info !== undefined) {
    throw new SerializationError(
      connection !== undefined && owners.get(info.caller) === connection
        ? `Cannot pass ${
          String(value)
        } back to the peer it came from: a proxy is not sent, not even to its own peer (pass its path, or an agent's address, instead)`
        : `Cannot pass ${
          String(value)
        } on: a proxy only works on its own connection (pass an address instead)`,
    );
  }
  throw new SerializationError(
    `Cannot encode ${
      describe(value)
    }: no serializer is registered for it and it is not a service of this connection`,
  );
}
