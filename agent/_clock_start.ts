// The external clock of a child container (Worker or process), checked in
// the parent: a bad date or time fails here, before a child is spent on it.
import { ExternalClock } from "./external_clock.ts";

/**
 * `start` as the ISO date a child takes, once an `ExternalClock` accepts
 * it with `initTime`.
 *
 * @throws {RangeError} For a date that is not one, or a time out of range.
 * @throws {TypeError} For a time that is not a number.
 */
export function clockStart(start: Date | string, initTime = 0): string {
  new ExternalClock(start, initTime);
  return start instanceof Date ? start.toISOString() : start;
}
