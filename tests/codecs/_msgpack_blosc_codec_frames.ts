// Shared by the msgpack_blosc_codec_*_test.ts files: the aiomas msgpackblosc
// vectors and their frames, a seeded PRNG and assertRejects.
import assert from "node:assert/strict";
import { SerializationError } from "../../errors.ts";
import { loadVectors, unhex, type Vector } from "./_vectors.ts";

export const vectors = (await loadVectors()).filter((v) =>
  v.codec === "msgpackblosc"
);
export const vector = (name: string): Vector =>
  vectors.find((v) => v.name === name)!;
export const frameOf = (name: string): Uint8Array =>
  unhex(vector(name).payload_hex);

/** A small deterministic PRNG (LCG), so failures can be reproduced. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

export async function assertRejects(
  promise: Promise<unknown>,
  label: string,
): Promise<void> {
  await assert.rejects(promise, SerializationError, label);
}
