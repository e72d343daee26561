// The fuzzer's oracle: what the server must do with the bytes of an input,
// and structural equality of decoded values.

import type { Codec } from "../../mod.ts";
import { MAX_DEPTH, MAX_FRAME_SIZE, RefMarker } from "./_fuzz_codecs.ts";

// ---------------------------------------------------------------------------
// The oracle: what the server must do with an input

export interface ExpectedRequest {
  id: unknown;
  /** The reply type it must get, if known. */
  type?: 1 | 2;
  /** The result it must get, if known (type 1). */
  result?: { value: unknown };
}

/** What the server must do with the bytes of one input. */
export interface Plan {
  /** The requests it must answer (before the first bad frame). */
  requests: ExpectedRequest[];
  /** What is wrong, if the server must close the connection. */
  bad: string | null;
  /** Whether the input ends inside a frame (the server waits for more). */
  incomplete: boolean;
  /**
   * Whether a request holds a service reference: the server may call back
   * through it (requests from the server are then fine), and its own ids
   * then make later replies in the input valid or late: the oracle stops
   * there (`incomplete`), and the driver ends the connection after it.
   */
  refs: boolean;
}

function containsRef(value: unknown, depth = 0): boolean {
  if (value instanceof RefMarker) return true;
  if (depth > MAX_DEPTH + 2 || typeof value !== "object" || value === null) {
    return false;
  }
  if (value instanceof Map) {
    for (const [k, v] of value) {
      if (containsRef(k, depth + 1) || containsRef(v, depth + 1)) return true;
    }
    return false;
  }
  if (value instanceof Uint8Array) return false;
  for (const key of Object.keys(value)) {
    if (containsRef((value as Record<string, unknown>)[key], depth + 1)) {
      return true;
    }
  }
  return false;
}

/** What a well-formed call must return, where the oracle can tell. */
function expectationFor(id: unknown, content: unknown): ExpectedRequest {
  const request: ExpectedRequest = { id };
  if (
    !Array.isArray(content) || content.length !== 3 ||
    typeof content[0] !== "string" || !Array.isArray(content[1])
  ) {
    request.type = 2;
    return request;
  }
  const [path, args, kwargs] = content;
  const plainKwargs = typeof kwargs === "object" && kwargs !== null &&
    !Array.isArray(kwargs) && !(kwargs instanceof Map) &&
    !(kwargs instanceof Uint8Array) && !(kwargs instanceof RefMarker);
  if (!plainKwargs) {
    request.type = 2;
    return request;
  }
  const noKwargs = Object.keys(kwargs).length === 0;
  if (path === "add" && noKwargs && args.length === 2) {
    const [a, b] = args;
    if (typeof a === "number" && typeof b === "number") {
      request.type = 1;
      request.result = { value: a + b };
    } else if (
      (typeof a === "bigint" && typeof b === "number") ||
      (typeof a === "number" && typeof b === "bigint")
    ) {
      request.type = 2; // TypeError: cannot mix BigInt and other types
    }
  } else if (
    (path === "echo" || path === "echoAsync") && noKwargs && args.length === 1
  ) {
    if (!containsRef(args[0])) {
      request.type = 1;
      request.result = { value: args[0] };
    } else {
      request.type = 2; // a proxy cannot be passed on
    }
  } else if (path === "fail" && noKwargs) {
    request.type = 2;
  } else if (
    ["", "secret", "nope", "sub", "__proto__", "constructor", "toString"]
      .includes(path)
  ) {
    request.type = 2;
  }
  return request;
}

/** Splits bytes into frames the way the server does, and judges each. */
export async function plan(bytes: Uint8Array, oracle: Codec): Promise<Plan> {
  const result: Plan = {
    requests: [],
    bad: null,
    incomplete: false,
    refs: false,
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < 4) {
      result.incomplete = true;
      return result;
    }
    const length = view.getUint32(at);
    if (length === 0) {
      result.bad = "empty frame";
      return result;
    }
    if (length > MAX_FRAME_SIZE) {
      result.bad = `frame of ${length} bytes`;
      return result;
    }
    if (bytes.length - at - 4 < length) {
      result.incomplete = true;
      return result;
    }
    const payload = bytes.subarray(at + 4, at + 4 + length);
    at += 4 + length;
    let message: unknown;
    try {
      message = await oracle.decode(payload);
    } catch (error) {
      result.bad = `does not decode: ${(error as Error).message}`;
      return result;
    }
    if (!Array.isArray(message) || message.length !== 3) {
      result.bad = "not a 3-array";
      return result;
    }
    const [type, id, content] = message;
    if (type === 1 || type === 2) {
      if (result.refs) {
        // It may answer a call back through a reference sent before.
        result.incomplete = true;
        return result;
      }
      // The server sends no requests to fuzz peers: no reply is expected.
      result.bad = "reply to an unknown id";
      return result;
    }
    if (type !== 0) {
      result.bad = "unknown message type";
      return result;
    }
    if (containsRef(content)) result.refs = true;
    if (containsRef(id)) {
      // Its reply cannot be sent (the id holds a proxy): the server closes
      // the connection when it tries, after answering what it can before.
      result.refs = true;
      result.bad ??= "a request id that cannot be sent back";
      continue;
    }
    result.requests.push(expectationFor(id, content));
  }
  return result;
}

/** Structural equality of decoded values (NaN equals NaN; -0 is not 0). */
export function sameValue(a: unknown, b: unknown, depth = 0): boolean {
  if (Object.is(a, b)) return true;
  if (
    typeof a !== typeof b || typeof a !== "object" || a === null || b === null
  ) {
    return false;
  }
  if (depth > 1000) return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) return false;
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }
  if (a instanceof RefMarker || b instanceof RefMarker) {
    return a instanceof RefMarker && b instanceof RefMarker &&
      a.path === b.path;
  }
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map) || !(b instanceof Map) || a.size !== b.size) {
      return false;
    }
    const ea = [...a];
    const eb = [...b];
    return ea.every(([k, v], i) =>
      sameValue(k, eb[i][0], depth + 1) && sameValue(v, eb[i][1], depth + 1)
    );
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((key, i) =>
    key === kb[i] &&
    sameValue(
      (a as Record<string, unknown>)[key],
      (b as Record<string, unknown>)[key],
      depth + 1,
    )
  );
}
