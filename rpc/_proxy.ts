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

const remotes = new WeakMap<object, RemoteInfo>();
const ignore = (): void => {};
const INSPECT = Symbol.for("Deno.customInspect");

/** The `set` trap of every proxy: nothing is set on a proxy. */
function refuse(): boolean {
  return false;
}

/**
 * Makes a proxy whose property accesses extend the path and whose calls
 * send it through `caller`, with `options` (inherited by the proxies of
 * its sub-paths). `label` is what `String(proxy)` gives.
 */
export function createRemote(
  caller: Caller,
  path: string,
  label: string,
  options?: CallOptions,
): DynamicRemote {
  // Made on first use: a peer can make a proxy with about 20 bytes (a
  // reference), so what one holds from the start must stay small.
  let children: Map<string, DynamicRemote> | undefined;
  // The target does the call itself: a proxy without an apply trap calls
  // it directly, which is cheaper than a trap with an arguments array.
  const target = function (...args: unknown[]): Promise<unknown> | undefined {
    // Called as then(resolve, reject): a peer's value held this proxy
    // under "then" and something awaited it. Refuse, or the await hangs.
    if (
      args.length === 2 && typeof args[0] === "function" &&
      typeof args[1] === "function" && !remotes.has(args[0]) &&
      !remotes.has(args[1])
    ) {
      (args[1] as (reason: unknown) => void)(
        new TypeError(
          `Cannot await ${label}: a remote proxy is not a thenable`,
        ),
      );
      return undefined;
    }
    if (path === "") {
      const refused = Promise.reject(
        new TypeError("Cannot call a remote service itself: name a method"),
      );
      refused.catch(() => {}); // As below: never an unhandled rejection.
      return refused;
    }
    const result = caller(path, args, options);
    // Code may call a proxy without awaiting it (e.g. a peer's value with
    // a proxy under "valueOf"): its failure must not be an unhandled
    // rejection, which ends a Deno process. Awaiting callers still see it.
    result.catch(ignore);
    return result;
  } as unknown as DynamicRemote;
  const proxy = new Proxy(target, {
    get(_target, name) {
      // Not thenable, so that `await proxy` and returning it from async code work.
      // Nor a constructor: nothing named so can be exposed, and serializers
      // look up `value.constructor`.
      if (name === "then" || name === "constructor") return undefined;
      if (
        name === "toString" || name === Symbol.toPrimitive || name === INSPECT
      ) return () => label;
      if (typeof name !== "string") return undefined;
      children ??= new Map();
      let child = children.get(name);
      if (child === undefined) {
        const childPath = path === "" ? name : `${path}/${name}`;
        child = createRemote(
          caller,
          childPath,
          `RpcProxy('${childPath}')`,
          options,
        );
        children.set(name, child);
      }
      return child;
    },
    set: refuse,
  });
  remotes.set(proxy, { caller, path, label, options });
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
  caller?: Caller,
): string {
  if (path !== undefined) return path;
  const info = remoteInfo(value);
  if (info !== undefined) {
    throw new SerializationError(
      info.caller === caller
        ? `Cannot pass ${
          String(value)
        } back to the peer it came from: a proxy is not sent, not even to its own peer (pass its path instead)`
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
