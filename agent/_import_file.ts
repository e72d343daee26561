// How Manager.spawn (agent/manager.ts) imports a `file:` module: once its
// file is known to exist, as Deno keeps every failed import for good.

/** `file:` modules imported by {@linkcode importFile}: not checked again. */
const imported = new Set<string>();
/**
 * Modules whose file could not be checked (no read permission) being
 * imported, or whose import failed: the latter are kept by Deno for good,
 * so a peer could grow them without end. Concurrent imports of one share
 * it, and one counts once, however often it fails.
 */
const unchecked = new Map<string, Promise<Record<string, unknown>>>();
/** The most of those (and so of failed unchecked imports) at once. */
const MAX_UNCHECKED = 64;

/**
 * Imports a `file:` module, once its file is known to exist. Deno keeps
 * every failed import for the life of the process, and each makes the
 * next slower (37 KB and growing milliseconds per missing module
 * measured): a peer must not get to make it try files that are not there.
 * Where the process may not look (no read permission), the import
 * decides, as for a module the program has imported already, up to
 * {@linkcode MAX_UNCHECKED} failures.
 */
export async function importFile(
  spec: string,
  url: URL,
): Promise<Record<string, unknown>> {
  if (imported.has(url.href)) return await import(url.href);
  const exists = await isFile(url);
  if (exists === false) {
    throw new TypeError(
      `Invalid agent spec ${
        JSON.stringify(spec)
      }: there is no module file at "${url.href}"`,
    );
  }
  if (exists === undefined) return await importUnchecked(url);
  const module = await import(url.href);
  imported.add(url.href);
  return module;
}

/**
 * Imports a module whose file could not be checked, while fewer than
 * {@linkcode MAX_UNCHECKED} such modules are being imported or have
 * failed; refuses others.
 *
 * @throws {Deno.errors.NotCapable} Beyond that.
 */
function importUnchecked(url: URL): Promise<Record<string, unknown>> {
  let importing = unchecked.get(url.href);
  if (importing !== undefined) return importing;
  if (unchecked.size >= MAX_UNCHECKED) {
    return Promise.reject(
      new Deno.errors.NotCapable(
        `Manager refuses to spawn ${
          JSON.stringify(url.href)
        }: it may not read that path to check that the module exists, and ${MAX_UNCHECKED} such modules have been imported without that check and failed, or are being imported (each failure is kept for the life of the process); grant read permission for the allowSpawn prefixes (--allow-read)`,
      ),
    );
  }
  importing = import(url.href);
  unchecked.set(url.href, importing);
  // A module that loaded leaves room for another; a failed one stays.
  importing.then(() => {
    unchecked.delete(url.href);
    imported.add(url.href);
  }, () => {});
  return importing;
}

/**
 * Whether `url` is an existing file (a directory or nothing is not), or
 * undefined if the process may not look (no read permission there: the
 * import decides, as it would have, e.g. for a module imported already).
 */
async function isFile(url: URL): Promise<boolean | undefined> {
  try {
    return (await Deno.stat(url)).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    if (
      error instanceof Deno.errors.NotCapable ||
      error instanceof Deno.errors.PermissionDenied
    ) return undefined;
    throw error;
  }
}
