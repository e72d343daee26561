// numcodecs' Blosc (WebAssembly) compresses MsgPackBlosc frames; decoding
// does not need it (_blosc.ts reads frames). It is imported only when a
// MsgPackBlosc codec first encodes, so that a program that uses another
// codec never downloads it. The specifier is a full npm: specifier, so it
// resolves without this project's import map, and it is kept out of the
// import() call so that Deno does not fetch it with the module graph.

/** Where numcodecs' Blosc is imported from. */
export const NUMCODECS_BLOSC = "npm:numcodecs@^0.3.2/blosc";

/** The part of numcodecs' Blosc codec that is used. */
export interface Compressor {
  encode(data: Uint8Array): Promise<Uint8Array>;
}

const loaded = new Map<string, Promise<Compressor>>();

/**
 * numcodecs' Blosc configured as aiomas compresses (blosclz, level 9, byte
 * shuffle), imported on first use. A failed import is not kept, so a later
 * call tries again.
 *
 * @param specifier The module to import (tests give one that fails).
 * @returns The compressor.
 * @throws {Error} "MsgPackBlosc codec unavailable: …" with the reason, if
 *   the module cannot be imported or is not numcodecs' Blosc.
 */
export function loadCompressor(
  specifier: string = NUMCODECS_BLOSC,
): Promise<Compressor> {
  let compressor = loaded.get(specifier);
  if (compressor === undefined) {
    compressor = load(specifier);
    loaded.set(specifier, compressor);
    compressor.catch(() => loaded.delete(specifier));
  }
  return compressor;
}

async function load(specifier: string): Promise<Compressor> {
  let Blosc;
  try {
    ({ default: Blosc } = await import(specifier));
    if (typeof Blosc?.fromConfig !== "function") {
      throw new TypeError("its default export has no fromConfig()");
    }
  } catch (error) {
    throw new Error(
      `MsgPackBlosc codec unavailable: cannot load numcodecs (${specifier}): ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
  return Blosc.fromConfig({
    id: "blosc",
    clevel: 9,
    cname: "blosclz",
    shuffle: 1,
    blocksize: 0,
  }) as Compressor;
}
