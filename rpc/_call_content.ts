import { clipPeerText } from "../channel/_message.ts";
import type { Resolved } from "./service.ts";

/** The `[path, args, kwargs]` of a call request, checked. */
export function checkCall(
  content: unknown,
): [string, unknown[], Record<string, unknown>] {
  if (
    Array.isArray(content) && content.length === 3 &&
    typeof content[0] === "string" &&
    Array.isArray(content[1]) && isRecord(content[2])
  ) {
    return content as [string, unknown[], Record<string, unknown>];
  }
  throw new TypeError(
    "Cannot call: the request must be [path: string, args: array, kwargs: map]",
  );
}

/**
 * Whether `value` is a plain object, as a decoded map of string keys is:
 * not a `Map`, an array, bytes (whose every index would be a keyword) or
 * what a serializer made.
 */
function isRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * The arguments of a call in order: positional, then keyword by `params`.
 * Declared `params` are all the parameters, so more positional arguments
 * than that are refused, as Python refuses them.
 */
export function bindArguments(
  resolved: Resolved,
  args: unknown[],
  kwargs?: Record<string, unknown>,
): unknown[] {
  const params = resolved.options.params;
  if (params !== undefined && args.length > params.length) {
    throw new TypeError(
      `${resolved.qualname}() takes at most ${params.length} positional argument${
        params.length === 1 ? "" : "s"
      } but ${args.length} ${args.length === 1 ? "was" : "were"} given`,
    );
  }
  // Local calls have none: no keys to list.
  if (kwargs === undefined) return args;
  const names = Object.keys(kwargs);
  if (names.length === 0) return args;
  if (params === undefined) {
    throw new TypeError(
      `${resolved.qualname}() got keyword arguments (${
        clipPeerText(names.join(", "))
      }) but declares no params for them (mark it @expose({ params: [...] }))`,
    );
  }
  const bound = args.slice();
  for (const key of names) {
    const index = params.indexOf(key);
    if (index < 0) {
      throw new TypeError(
        `${resolved.qualname}() got an unexpected keyword argument '${
          clipPeerText(key)
        }'`,
      );
    }
    if (index < args.length) {
      throw new TypeError(
        `${resolved.qualname}() got multiple values for argument '${key}'`,
      );
    }
    bound[index] = kwargs[key];
  }
  // Unfilled positions are undefined, so JavaScript defaults apply.
  return Array.from(bound);
}
