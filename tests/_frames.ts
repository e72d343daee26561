// Frames written by hand, independent of the code under test.

/** A frame: 4-byte big-endian length, then the payload. */
export function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, 4);
  return out;
}

/** A frame holding a UTF-8 text payload (e.g. JSON). */
export function textFrame(text: string): Uint8Array {
  return frame(new TextEncoder().encode(text));
}

/** The bytes of `parts` one after another, in a new array. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Asserts `actual` holds the bytes of `expected`; on a difference it names
 * the first differing offset instead of printing megabytes of both.
 */
export function assertSameBytes(
  actual: Uint8Array,
  expected: Uint8Array,
  message = "bytes",
): void {
  let at = 0;
  const length = Math.min(actual.length, expected.length);
  while (at < length && actual[at] === expected[at]) at++;
  if (at === length && actual.length === expected.length) return;
  throw new Error(
    `${message}: ${actual.length} bytes against ${expected.length} expected, first difference at ${at}`,
  );
}
