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
