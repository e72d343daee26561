/**
 * A number that always travels as a float, even when its value is
 * integral. JavaScript has one number type, so the codecs send integral
 * numbers up to 2^53 as integers; wrap one in `Float64` where the peer must
 * see a float (Python `1.0`). Decoders return plain numbers, never `Float64`.
 *
 * @example
 * ```ts
 * import { Float64, JsonCodec } from "@aiomas/aiomas/codecs";
 * import assert from "node:assert/strict";
 *
 * const codec = new JsonCodec();
 * assert.equal(new TextDecoder().decode(codec.encode([1, new Float64(1)])), "[1,1.0]");
 * ```
 */
export class Float64 {
  /** The number. */
  readonly value: number;

  /**
   * Wraps a number.
   *
   * @param value The number to send as a float.
   */
  constructor(value: number) {
    this.value = value;
  }

  /**
   * Returns the number, so that `+x` and arithmetic work.
   *
   * @returns The wrapped number.
   */
  valueOf(): number {
    return this.value;
  }
}

/** Whether a number goes on the wire as an integer. */
export function isWireInteger(value: number): boolean {
  return Number.isInteger(value) && Math.abs(value) <= 2 ** 53 &&
    !Object.is(value, -0);
}
