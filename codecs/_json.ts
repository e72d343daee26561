// JSON as Python's json module writes it, read back: bare NaN/Infinity
// tokens, integers of any size (bigint beyond 2^53). Writing is in
// _json_writer.ts.
import { SerializationError } from "../errors.ts";
import type { SerializerRegistry } from "./serializer_registry.ts";
import { isSparseIndex, setKey, toSparseElements } from "./_set_key.ts";

/**
 * A run of this many digits is a sign that the fast `JSON.parse` path could
 * lose something: a long integer.
 */
export const LONG_DIGIT_RUN = 16;

/** What the decoder found in a text's bytes (or a count of them). */
export interface TextSigns {
  /**
   * Whether it has a run of {@linkcode LONG_DIGIT_RUN} digits (the full
   * parser reads it: it may have an integer beyond ±2^53, or too long).
   */
  longDigits: boolean;
  /** Whether it may hold a `__type__` key (an underscore or an escape). */
  typed: boolean;
  /** Whether it has a backslash. */
  escapes: boolean;
}

/**
 * Decodes JSON text, resolving `__type__` maps unless `registry` is null
 * (they stay maps).
 */
export function parse(
  text: string,
  registry: SerializerRegistry | null,
  maxDepth: number,
  signs: TextSigns,
): unknown {
  let value: unknown;
  let native = false;
  if (signs.longDigits) {
    value = new Parser(text, maxDepth).parseDocument();
  } else {
    try {
      value = JSON.parse(text);
      native = true;
    } catch (error) {
      // Python's NaN/Infinity tokens are not JSON; the full parser knows them.
      if (!/NaN|Infinity/.test(text)) throw syntaxError(error);
      value = new Parser(text, maxDepth).parseDocument();
    }
  }
  // V8's JSON.parse (Deno 2.9.6, V8 15.0) may give an escaped key as one it
  // met in an earlier text (after {"x":1,"\\":1}, {"x":1,"\u0042":1} has
  // the key "\\"), across connections too. Such a key always has a
  // backslash: a text whose keys have one is read again by the full
  // parser, which is not fooled. Python escapes every non-ASCII key, so a
  // key with an escape is common; a misread one is not.
  if (native && signs.escapes && backslashKey(value, maxDepth, 0)) {
    value = new Parser(text, maxDepth).parseDocument();
  }
  // A text shorter than maxDepth cannot nest deeper; without a "__type__"
  // key there is nothing to revive either (the common small message).
  if (text.length < maxDepth && !signs.typed) return value;
  return revive(value, registry, maxDepth, 0);
}

/** Whether an object in `value` (down to `maxDepth`) has a key with a backslash. */
function backslashKey(
  value: unknown,
  maxDepth: number,
  depth: number,
): boolean {
  if (typeof value !== "object" || value === null || depth >= maxDepth) {
    return false;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (backslashKey(value[i], maxDepth, depth + 1)) return true;
    }
    return false;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (key.includes("\\")) return true;
    if (backslashKey(record[key], maxDepth, depth + 1)) return true;
  }
  return false;
}

function syntaxError(error: unknown): SerializationError {
  return new SerializationError(
    `Cannot decode JSON: ${
      error instanceof Error ? error.message : String(error)
    }`,
  );
}

/** Resolves `__type__` maps bottom-up and enforces the depth limit. */
function revive(
  value: unknown,
  registry: SerializerRegistry | null,
  maxDepth: number,
  depth: number,
): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (depth >= maxDepth) {
    throw new SerializationError(
      `Cannot decode value: nesting deeper than maxDepth ${maxDepth}`,
    );
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (typeof item === "object" && item !== null) {
        value[i] = revive(item, registry, maxDepth, depth + 1);
      }
    }
    return value;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    const item = record[key];
    if (typeof item === "object" && item !== null) {
      record[key] = revive(item, registry, maxDepth, depth + 1);
    }
  }
  return registry !== null && Object.hasOwn(record, "__type__")
    ? registry.fromWire(record.__type__)
    : record;
}

/**
 * A JSON parser for the texts `JSON.parse` cannot take exactly: Python's
 * bare NaN/Infinity tokens and integers beyond 2^53 (decoded as bigint).
 */
class Parser {
  #text: string;
  #pos = 0;
  #maxDepth: number;
  #stack: unknown[] = [];

  constructor(text: string, maxDepth: number) {
    this.#text = text;
    this.#maxDepth = maxDepth;
  }

  parseDocument(): unknown {
    const value = this.#value(0);
    this.#space();
    if (this.#pos !== this.#text.length) this.#fail("unexpected trailing text");
    return value;
  }

  #fail(what: string): never {
    throw new SerializationError(
      `Cannot decode JSON: ${what} at position ${this.#pos}`,
    );
  }

  #space(): void {
    const text = this.#text;
    while (this.#pos < text.length) {
      const c = text.charCodeAt(this.#pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      this.#pos++;
    }
  }

  #value(depth: number): unknown {
    this.#space();
    const text = this.#text;
    const c = text[this.#pos];
    if (c === "{" || c === "[") {
      if (depth >= this.#maxDepth) {
        this.#fail(`nesting deeper than maxDepth ${this.#maxDepth}`);
      }
      return c === "{" ? this.#object(depth) : this.#array(depth);
    }
    if (c === '"') return this.#string();
    for (const [token, value] of TOKENS) {
      if (text.startsWith(token, this.#pos)) {
        this.#pos += token.length;
        return value;
      }
    }
    return this.#number();
  }

  #object(depth: number): Record<string, unknown> {
    const object: Record<string, unknown> = {};
    this.#pos++;
    this.#space();
    if (this.#text[this.#pos] === "}") {
      this.#pos++;
      return object;
    }
    let sparse = false;
    for (let keys = 1;; keys++) {
      this.#space();
      if (this.#text[this.#pos] !== '"') this.#fail("expected a string key");
      const key = this.#string();
      this.#space();
      if (this.#text[this.#pos++] !== ":") this.#fail('expected ":"');
      if (!sparse && isSparseIndex(key, keys)) {
        toSparseElements(object);
        sparse = true;
      }
      setKey(object, key, this.#value(depth + 1));
      this.#space();
      const next = this.#text[this.#pos++];
      if (next === "}") return object;
      if (next !== ",") this.#fail('expected "," or "}"');
    }
  }

  #array(depth: number): unknown[] {
    this.#pos++;
    this.#space();
    if (this.#text[this.#pos] === "]") {
      this.#pos++;
      return [];
    }
    // Elements gather on one stack shared by every array of the text, and
    // each array is copied off it at its exact size: an array grown by
    // push holds up to 17 slots for one element.
    const stack = this.#stack;
    const start = stack.length;
    for (;;) {
      stack.push(this.#value(depth + 1));
      this.#space();
      const next = this.#text[this.#pos++];
      if (next === "]") break;
      if (next !== ",") this.#fail('expected "," or "]"');
    }
    const array = stack.slice(start);
    stack.length = start;
    return array;
  }

  #string(): string {
    const text = this.#text;
    const start = this.#pos;
    let i = start + 1;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x5c) i++;
      else if (c === 0x22) break;
    }
    if (i >= text.length) this.#fail("unterminated string");
    this.#pos = i + 1;
    try {
      return JSON.parse(text.slice(start, i + 1));
    } catch (error) {
      throw syntaxError(error);
    }
  }

  #number(): number | bigint {
    NUMBER.lastIndex = this.#pos;
    const match = NUMBER.exec(this.#text);
    if (match === null) this.#fail("unexpected character");
    const literal = match[0];
    this.#pos += literal.length;
    const value = Number(literal);
    // Number() rounds 2^53 + 1 down to 2^53, so compare exactly.
    if (match[1] === undefined && Math.abs(value) >= 2 ** 53) {
      const digits = literal.length - (literal[0] === "-" ? 1 : 0);
      if (digits > MAX_INTEGER_DIGITS) {
        this.#pos -= literal.length;
        this.#fail(
          `an integer of ${digits} digits, more than ${MAX_INTEGER_DIGITS} (Python's limit for int, which bounds the time a bigint takes to parse)`,
        );
      }
      const integer = BigInt(literal);
      if (integer > 2n ** 53n || integer < -(2n ** 53n)) return integer;
    }
    return value;
  }
}

const TOKENS: readonly (readonly [string, unknown])[] = [
  ["null", null],
  ["true", true],
  ["false", false],
  ["NaN", NaN],
  ["Infinity", Infinity],
  ["-Infinity", -Infinity],
];

/**
 * The most digits an integer may have: Python's default int_max_str_digits
 * (since 3.11), which bounds the time `BigInt()` takes (2 s for 16 MiB).
 */
export const MAX_INTEGER_DIGITS = 4300;

// Group 1 is set for anything but an integer literal.
const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+(?:[eE][+-]?\d+)?|[eE][+-]?\d+)?/y;
