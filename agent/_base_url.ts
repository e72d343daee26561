// Where relative module specs (spawn, serializers) are resolved from.
import { pathToFileURL } from "node:url";

/**
 * `base` as a URL: a URL as it is, a path as the directory it names (a
 * path is no URL: `"/srv/app/"` would be resolved against nothing).
 */
export function baseUrl(base: string | URL): string | URL {
  if (base instanceof URL || URL.canParse(base)) return base;
  // pathToFileURL resolves a relative path from the current directory.
  const url = pathToFileURL(base.endsWith("/") ? base : `${base}/`);
  return url.href;
}
