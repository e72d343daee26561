// A decoded object's keys, set as JSON.parse sets them: own data
// properties, whatever Object.prototype holds.

/**
 * Sets `record[key]` to `value` as an own data property. Assignment where
 * it can (defineProperty for every key made objects with many keys take a
 * quarter more memory); defineProperty for `__proto__` (assignment would
 * set the prototype) and for keys a frozen `Object.prototype` refuses to
 * have assigned ("constructor", "toString", …).
 */
export function setKey(
  record: Record<string, unknown>,
  key: string,
  value: unknown,
): void {
  if (key !== "__proto__") {
    try {
      record[key] = value;
      return;
    } catch {
      // A frozen prototype's read-only property of that name.
    }
  }
  Object.defineProperty(record, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/**
 * Whether setting `key` on an object that will hold `entries` keys (or,
 * when not known, has that many so far) could make V8 allocate an
 * elements store much larger than the object: `key` is an array index
 * above `2 × entries + 16`. V8 keeps an object's indexed keys in an array
 * while each new index is within 1024 of its capacity, which grows it to
 * 1.5 × the index: `{"1023": 0, "2575": 0, "3322": 0}` held 31 KB for 19
 * bytes of MsgPack. Call {@linkcode toSparseElements} before setting it.
 */
export function isSparseIndex(key: string, entries: number): boolean {
  const first = key.charCodeAt(0);
  // "1"–"9": "0" is index 0, and an index has no leading zero.
  if (first < 49 || first > 57 || key.length > 10) return false;
  const index = Number(key);
  return index > 2 * entries + 16 && index < 4294967295 &&
    Number.isInteger(index) && String(index) === key;
}

/**
 * Makes V8 keep `record`'s indexed keys in a dictionary: its largest
 * index, set and deleted. Its store then grows with its keys only.
 */
export function toSparseElements(record: Record<string, unknown>): void {
  record[4294967294] = 0;
  delete record[4294967294];
}
