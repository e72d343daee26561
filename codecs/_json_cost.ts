// What a JSON text will build, counted in one pass over its bytes before it
// is parsed: a value starts at the first significant byte after `[`, `{`,
// `,`, `:` or the start of the text, which is where JSON.parse (and the
// full parser in _json.ts) makes one. For a text that is not JSON the count
// holds up to the first error, which is where the parsers stop.
import type { Tally } from "./_budget.ts";
import { ARRAY, OBJECT, overBudget, SLOT, STRING } from "./_budget.ts";

/**
 * The cost of the values the JSON text in `data` builds, refused beyond
 * `budget`. A string costs its bytes between the quotes, as sent.
 *
 * @throws {RangeError} If it costs more than `budget`.
 */
export function jsonCost(data: Uint8Array, budget: number): number {
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
    if (c === 0x22) {
      // A string: find its end, stepping over escapes.
      const start = i;
      for (i++; i < length; i++) {
        const b = data[i];
        if (b === 0x22) break;
        if (b === 0x5c) i++;
      }
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
        } else {
          cost += SLOT;
        }
      }
      expect = c === 0x5b || c === 0x7b || c === 0x2c || c === 0x3a;
    }
    if (cost > budget) {
      const tally: Tally = { values, containers, strings, stringBytes };
      throw overBudget("JSON", budget, cost, i + 1, length, tally);
    }
  }
  return cost;
}
