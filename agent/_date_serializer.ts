import type { SerializerSpec } from "../codecs/serializer_registry.ts";
import { SerializationError } from "../errors.ts";

/**
 * Dates as aiomas containers send them (typeid 0, arrow's `str()`):
 * `"2016-01-01T00:00:00+00:00"`, with microseconds when there are any
 * (`"…T00:00:02.500000+00:00"`). Any ISO-8601 offset is read.
 */
export const DATE_SERIALIZER: SerializerSpec<Date> = [
  Date,
  (date: Date): string => {
    if (Number.isNaN(date.getTime())) {
      throw new SerializationError("Cannot encode an invalid Date");
    }
    const ms = date.getUTCMilliseconds();
    const fraction = ms === 0 ? "" : `.${String(ms * 1000).padStart(6, "0")}`;
    return `${date.toISOString().slice(0, 19)}${fraction}+00:00`;
  },
  (data: unknown): Date => {
    const date = typeof data === "string" ? new Date(data) : new Date(NaN);
    if (Number.isNaN(date.getTime())) {
      throw new SerializationError(
        `Cannot decode a date from ${JSON.stringify(data)}`,
      );
    }
    return date;
  },
];
