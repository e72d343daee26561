import { SerializationError } from "../errors.ts";

/** Any class, including abstract ones: the key of a serializer. */
// deno-lint-ignore no-explicit-any
export type Constructor<T = unknown> = abstract new (...args: any[]) => T;

/** Turns an instance into data a codec can encode natively. */
export type ToWire<T> = (value: T) => unknown;

/** Turns decoded data back into an instance. */
export type FromWire<T> = (data: unknown) => T;

/**
 * A serializer as `[type, toWire, fromWire]`, the shape aiomas's
 * `__serializer__()` returns; spread it into `addSerializer`. Lists of specs
 * for different classes have the type `SerializerSpec[]`.
 */
// deno-lint-ignore no-explicit-any
export type SerializerSpec<T = any> = readonly [
  type: Constructor<T>,
  toWire: ToWire<T>,
  fromWire: FromWire<T>,
];

interface Entry {
  readonly typeid: number;
  readonly toWire: ToWire<never>;
}

/**
 * The ordered table of extra serializers that every codec holds.
 *
 * Each registration gets the next typeid (0, 1, 2, …), so both ends of a
 * connection must register in the same order. A value is looked up by its
 * exact class (no subclass matching), then the `Object` fallback if one is
 * registered. On the wire it is the one-key map `{"__type__": [typeid, data]}`.
 *
 * @example Registering a class
 * ```ts
 * import { SerializerRegistry } from "@aiomas/aiomas/codecs";
 * import assert from "node:assert/strict";
 *
 * class Point { constructor(public x: number, public y: number) {} }
 * const registry = new SerializerRegistry();
 * const typeid = registry.add(Point, (p) => [p.x, p.y], (d) => {
 *   const [x, y] = d as [number, number];
 *   return new Point(x, y);
 * });
 * assert.equal(typeid, 0);
 * assert.deepEqual(registry.toWire(new Point(1, 2)), { __type__: [0, [1, 2]] });
 * assert.deepEqual(registry.fromWire([0, [1, 2]]), new Point(1, 2));
 * ```
 */
export class SerializerRegistry {
  #byClass = new Map<unknown, Entry>();
  #fromWire: FromWire<unknown>[] = [];
  #fallback: Entry | undefined;

  /** How many serializers are registered (the next typeid). */
  get size(): number {
    return this.#fromWire.length;
  }

  /**
   * Registers a serializer and returns its typeid.
   *
   * @param type The exact class to serialize; `Object` registers the
   *   fallback for every class without a serializer of its own.
   * @param toWire Turns an instance into encodable data.
   * @param fromWire Turns that data back into an instance.
   * @returns The typeid, which is the number of earlier registrations.
   * @throws {TypeError} If `type` is registered already, or `type`,
   *   `toWire` or `fromWire` is not a function.
   */
  add<T>(
    type: Constructor<T>,
    toWire: ToWire<T>,
    fromWire: FromWire<T>,
  ): number {
    // Checked here, not at the first message that needs them (plain
    // JavaScript, a serializers module of the wrong shape).
    for (
      const [name, value] of [["type", type], ["toWire", toWire], [
        "fromWire",
        fromWire,
      ]] as const
    ) {
      if (typeof value !== "function") {
        throw new TypeError(
          `Cannot add serializer: its ${name} must be a function, not ${
            describe(value)
          }`,
        );
      }
    }
    const isFallback = (type as unknown) === Object;
    if (isFallback ? this.#fallback : this.#byClass.has(type)) {
      throw new TypeError(
        `Cannot add serializer: ${type.name || "the class"} has one already`,
      );
    }
    const entry: Entry = {
      typeid: this.#fromWire.length,
      toWire: toWire as ToWire<never>,
    };
    if (isFallback) this.#fallback = entry;
    else this.#byClass.set(type, entry);
    this.#fromWire.push(fromWire);
    return entry.typeid;
  }

  /**
   * Whether `type` has a serializer of its own (the `Object` fallback
   * aside).
   *
   * @param type A class.
   * @returns True if {@linkcode SerializerRegistry.add} registered it.
   *
   * @example
   * ```ts
   * import { SerializerRegistry } from "@aiomas/aiomas/codecs";
   * import assert from "node:assert/strict";
   *
   * const registry = new SerializerRegistry();
   * registry.add(Uint8Array, (b) => Array.from(b), (d) => new Uint8Array(d as number[]));
   * assert.ok(registry.has(Uint8Array));
   * assert.ok(!registry.has(Date));
   * ```
   */
  has(type: Constructor<unknown>): boolean {
    return this.#byClass.has(type);
  }

  /**
   * Encodes an object that has no native encoding as its `__type__` map.
   *
   * @param value The object.
   * @returns `{"__type__": [typeid, toWire(value)]}`.
   * @throws {SerializationError} If no serializer applies.
   */
  toWire(value: object): { __type__: [number, unknown] } {
    const entry = this.#byClass.get(value.constructor) ?? this.#fallback;
    if (entry === undefined) {
      throw new SerializationError(
        `Cannot encode ${
          describe(value)
        }: no serializer is registered for it (use addSerializer)`,
      );
    }
    return {
      __type__: [entry.typeid, (entry.toWire as ToWire<unknown>)(value)],
    };
  }

  /**
   * Decodes the value of a `__type__` key.
   *
   * @param tag The decoded `[typeid, data]`.
   * @returns The object that `fromWire` of that typeid makes of `data`.
   * @throws {SerializationError} If the tag is malformed or the typeid unknown.
   */
  fromWire(tag: unknown): unknown {
    if (!Array.isArray(tag) || tag.length !== 2 || typeof tag[0] !== "number") {
      throw new SerializationError(
        'Cannot decode "__type__": expected [typeid, data]',
      );
    }
    const fromWire = this.#fromWire[tag[0]];
    if (fromWire === undefined) {
      throw new SerializationError(
        `Cannot decode "__type__": unknown typeid ${
          tag[0]
        } (${this.size} registered)`,
      );
    }
    return fromWire(tag[1]);
  }
}

/**
 * The TypeScript counterpart of aiomas's `@serializable`: a serializer that
 * sends the named fields as a map and calls the constructor with them in
 * that order, the way aiomas passes constructor parameters by name.
 *
 * @param type The class; its constructor takes the fields in this order.
 * @param fields The field names, in constructor parameter order.
 * @returns A `[type, toWire, fromWire]` spec for `addSerializer(...spec)`.
 *   Its `toWire` throws a `SerializationError` for an instance without one
 *   of the fields (not even as `undefined`).
 *
 * @example
 * ```ts
 * import { JsonCodec, serializable } from "@aiomas/aiomas/codecs";
 * import assert from "node:assert/strict";
 *
 * class Point { constructor(public x: number, public y: number) {} }
 * const codec = new JsonCodec();
 * codec.addSerializer(...serializable(Point, ["x", "y"]));
 * const bytes = codec.encode(new Point(1, 2));
 * assert.equal(new TextDecoder().decode(bytes), '{"__type__":[0,{"x":1,"y":2}]}');
 * assert.deepEqual(codec.decode(bytes), new Point(1, 2));
 * ```
 */
export function serializable<T extends object>(
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => T,
  fields: readonly (keyof T & string)[],
): SerializerSpec<T> {
  const toWire = (value: T): Record<string, unknown> => {
    const data: Record<string, unknown> = {};
    for (const field of fields) {
      const item = value[field];
      // A misspelt field would travel as undefined; Python's getattr fails.
      // Looked up only then: this runs for every field of every encode.
      if (item === undefined && !(field in value)) {
        throw new SerializationError(
          `Cannot encode ${type.name}: it has no field "${field}" (serializable fields: ${
            fields.join(", ")
          })`,
        );
      }
      data[field] = item;
    }
    return data;
  };
  const fromWire = (data: unknown): T => {
    if (typeof data !== "object" || data === null) {
      throw new SerializationError(
        `Cannot decode ${type.name}: expected a map of ${fields.join(", ")}`,
      );
    }
    // Own fields only: a peer's map without "toString" must not pass
    // Object.prototype's. A missing one is undefined, as an encode leaves
    // out a field that is undefined.
    const map = data instanceof Map ? data : undefined;
    const args = fields.map((field) =>
      map !== undefined
        ? map.get(field)
        : Object.hasOwn(data, field)
        ? (data as Record<string, unknown>)[field]
        : undefined
    );
    return new (type as new (...args: unknown[]) => T)(...args);
  };
  return [type, toWire, fromWire];
}

/** A short description of a value's type for error messages. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "function") return "a function";
  if (typeof value === "object") {
    // Never call into the value: it may come from a peer (a "toString" key,
    // a proxy under "constructor", …).
    const ctor = Object.getPrototypeOf(value)?.constructor;
    const name = typeof ctor === "function" && typeof ctor.name === "string"
      ? ctor.name
      : "";
    if (!name) return "an object";
    // "a Uint8Array", said "a you-int".
    return /^(?:[AEIO]|U(?!int))/.test(name) ? `an ${name}` : `a ${name}`;
  }
  return `a ${typeof value}`;
}
