// What a JSON text will build, counted in one pass over its bytes before it
// is parsed: a value starts at the first significant byte after `[`, `{`,
// `,`, `:` or the start of the text, which is where JSON.parse (and the
// full parser in _json.ts) makes one. For a text that is not JSON the count
// holds up to the first error, which is where the parsers stop.
import type { Tally } from "./_budget.ts";
import { LONG_DIGIT_RUN } from "./_json.ts";
import {
  ARRAY,
  bigintCost,
  NUMBER,
  OBJECT,
  overBudget,
  SLOT,
  STRING,
} from "./_budget.ts";

/** What a count found beside the cost. */
export interface JsonCount {
  /**
   * Whether an integer has {@linkcode LONG_DIGIT_RUN} digits or more (the
   * full parser must read the text: it may be beyond ±2^53, or too long).
   */
  longIntegers: boolean;
  /** The bytes of the strings, between their quotes, as sent. */
  stringBytes: number;
}

/**
 * The cost of the values the JSON text in `data` builds, refused beyond
 * `budget`. A string costs its bytes between the quotes, as sent. What
 * else it finds goes in `found`.
 *
 * @throws {RangeError} If it costs more than `budget`.
 */
export function jsonCost(
  data: Uint8Array,
  budget: number,
  found?: JsonCount,
): number {
  let longIntegers = false;
  // After "{" only a key or "}" may come: anything else is where the
  // parsers stop (and "{{{{…" would count 64 units a byte).
  let afterBrace = false;
  const length = data.length;
  let cost = 0;
  let values = 0;
  let containers = 0;
  let strings = 0;
  let stringBytes = 0;
  // Where a value may start: at the start and after [ { , :
  let expect = true;
  let i = 0;
  // TextDecoder drops a byte order mark.
  if (data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) i = 3;
  for (; i < length; i++) {
    const c = data[i];
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (afterBrace) {
      afterBrace = false;
      if (c !== 0x22 && c !== 0x7d) break;
    }
    if (c === 0x22) {
      // A string: it ends at the next quote that no escape takes. Its
      // first bytes in a loop (most strings are short), then a native
      // search (a long one is bulk data).
      const start = i;
      let end = i + 1;
      const stop = end + 16 < length ? end + 16 : length;
      while (end < stop && data[end] !== 0x22) {
        end += data[end] === 0x5c ? 2 : 1;
      }
      if (end >= stop) {
        end = end < length ? data.indexOf(0x22, end) : -1;
        while (end !== -1 && escaped(data, start, end)) {
          end = data.indexOf(0x22, end + 1);
        }
        if (end === -1) end = length;
      }
      i = end;
      if (expect) {
        values++;
        strings++;
        stringBytes += i - start - 1;
        cost += STRING + i - start - 1;
      }
      expect = false;
    } else {
      if (expect && c !== 0x5d && c !== 0x7d) {
        values++;
        if (c === 0x7b) {
          containers++;
          cost += OBJECT;
        } else if (c === 0x5b) {
          containers++;
          cost += ARRAY;
        } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
          // A number: a slot if it is a small integer, a bigint if the
          // full parser makes one (an integer beyond ±2^53), else boxed.
          const start = c === 0x2d ? i + 1 : i;
          let end = start;
          while (end < length && data[end] >= 0x30 && data[end] <= 0x39) end++;
          const digits = end - start;
          if (digits >= LONG_DIGIT_RUN) longIntegers = true;
          const next = end < length ? data[end] : 0;
          if (next === 0x2e || (next | 0x20) === 0x65 || next === 0x49) {
            // A fraction, an exponent, or -Infinity.
            cost += NUMBER;
          } else if (digits < 10) {
            cost += c === 0x2d && data[start] === 0x30 ? NUMBER : SLOT;
          } else if (
            digits > 16 || (digits === 16 && beyond2p53(data, start))
          ) {
            cost += bigintCost(digits);
          } else cost += NUMBER;
          i = end - 1;
        } else {
          // NaN and Infinity (Python's tokens) are numbers V8 may box too.
          cost += c === 0x4e || c === 0x49 ? NUMBER : SLOT;
        }
      }
      afterBrace = c === 0x7b;
      expect = c === 0x5b || c === 0x7b || c === 0x2c || c === 0x3a;
    }
    if (cost > budget) {
      const tally: Tally = { values, containers, strings, stringBytes };
      throw overBudget("JSON", budget, cost, i + 1, length, tally);
    }
  }
  if (found !== undefined) {
    found.longIntegers = longIntegers;
    found.stringBytes = stringBytes;
  }
  return cost;
}

/**
 * Whether the quote at `at` is escaped: an odd number of backslashes
 * before it, after the string's opening quote at `start`.
 */
function escaped(data: Uint8Array, start: number, at: number): boolean {
  let k = at - 1;
  while (k > start && data[k] === 0x5c) k--;
  return (at - 1 - k) % 2 === 1;
}

/** 2^53 in decimal: an integer of 16 digits beyond it is a bigint. */
const TWO_TO_53 = "9007199254740992";

/** Whether the 16 digits at `start` are beyond 2^53. */
function beyond2p53(data: Uint8Array, start: number): boolean {
  for (let k = 0; k < 16; k++) {
    const d = data[start + k] - 0x30;
    const m = TWO_TO_53.charCodeAt(k) - 0x30;
    if (d !== m) return d > m;
  }
  return false;
}
