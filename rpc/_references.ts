import type { Codec } from "../codecs/codec.ts";
import { SerializationError } from "../errors.ts";
import type { DynamicRemote } from "./remote.ts";

/** How many paths' proxies the references of one turn share. */
const MAX_SHARED_PROXIES = 64;

/**
 * Makes `codec` carry service references (aiomas's fallback serializer,
 * registered for `Object`): `pathOf` gives the path a local object
 * travels as (or throws), and `proxyFor` makes the proxy of a received
 * path. References to one path in the messages of one turn share one
 * proxy, as a reference costs a peer a dozen bytes; nothing is kept past
 * the turn.
 */
export function addReferences(
  codec: Codec,
  pathOf: (value: object) => string,
  proxyFor: (path: string) => DynamicRemote,
): void {
  const made = new Map<string, DynamicRemote>();
  const forget = () => made.clear();
  codec.addSerializer(Object, pathOf, (path: unknown) => {
    if (typeof path !== "string") {
      throw new SerializationError(
        "Cannot decode a service reference: the path is not a string",
      );
    }
    let proxy = made.get(path);
    if (proxy === undefined) {
      proxy = proxyFor(path);
      if (made.size === 0) queueMicrotask(forget);
      if (made.size < MAX_SHARED_PROXIES) made.set(path, proxy);
    }
    return proxy;
  });
}
