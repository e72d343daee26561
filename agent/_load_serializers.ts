import type { SerializerSpec } from "../codecs/serializer_registry.ts";

/**
 * Imports the serializers a module exports, for a container in another
 * process or Worker: functions cannot be sent there, so they are named by
 * a spec that is resolved like a spawn spec.
 *
 * @param spec `"<module>#<ExportName>"`, e.g. `"./types.ts#serializers"`;
 *   the export is an array of `[type, toWire, fromWire]`.
 * @param base Where a relative module is resolved from.
 * @returns The serializers, in the exported order.
 * @throws {TypeError} If the spec is malformed or its export is not a list of serializers.
 */
export async function loadSerializers(
  spec: string,
  base: string | URL,
): Promise<SerializerSpec[]> {
  const hash = typeof spec === "string" ? spec.lastIndexOf("#") : -1;
  if (hash <= 0 || hash === spec.length - 1) {
    throw new TypeError(
      `Invalid serializers spec ${
        JSON.stringify(spec)
      }: expected "<module>#<ExportName>"`,
    );
  }
  const url = new URL(spec.slice(0, hash), base);
  const name = spec.slice(hash + 1);
  const module = await import(url.href);
  const value = module[name];
  if (!Array.isArray(value) || !value.every(isSerializerSpec)) {
    throw new TypeError(
      `Invalid serializers spec ${
        JSON.stringify(spec)
      }: "${name}" of module "${url.href}" is not an array of [type, toWire, fromWire]`,
    );
  }
  return value;
}

function isSerializerSpec(value: unknown): value is SerializerSpec {
  return Array.isArray(value) && value.length === 3 &&
    value.every((part) => typeof part === "function");
}

/**
 * The class names of serializers, to check that two containers that are
 * made apart registered the same ones in the same order.
 *
 * @param serializers The serializers.
 * @returns Their class names.
 */
export function serializerNames(
  serializers: readonly SerializerSpec[],
): string[] {
  return serializers.map(([type]) => type.name);
}

/**
 * Checks that a container made in another process or Worker has the
 * serializers of the container that talks to it: both ends number them in
 * order, so any difference garbles every value of a serializer type and
 * every agent reference (the first `spawn` reply would break the link).
 *
 * @param mine The names of this container's serializers.
 * @param theirs The names the other container reported.
 * @param where The other container, for the message.
 * @throws {TypeError} If they differ.
 */
export function checkSameSerializers(
  mine: readonly string[],
  theirs: readonly string[],
  where: string,
): void {
  if (mine.length === theirs.length && mine.every((n, i) => n === theirs[i])) {
    return;
  }
  const list = (names: readonly string[]) =>
    names.length === 0 ? "none" : names.join(", ");
  throw new TypeError(
    `The container ${where} has other serializers (${
      list(theirs)
    }) than this container (${
      list(mine)
    }): pass \`serializers: "<module>#<export>"\`, naming a module that exports the same list as this container's \`serializers\` option`,
  );
}
