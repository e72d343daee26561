import type { Codec } from "../codecs/codec.ts";

/**
 * Whether a codec's `encodeView` is what it means to encode with: not when a
 * subclass overrides `encode` but inherits `encodeView`.
 */
export function usesEncodeView(codec: Codec): boolean {
  if (typeof codec.encodeView !== "function") return false;
  for (
    let proto: object | null = codec;
    proto !== null;
    proto = Object.getPrototypeOf(proto)
  ) {
    if (Object.hasOwn(proto, "encodeView")) return true;
    if (Object.hasOwn(proto, "encode")) return false;
  }
  return false;
}

/** A codec's name for error messages. */
export function codecName(codec: Codec): string {
  return codec.constructor?.name || "its codec";
}
