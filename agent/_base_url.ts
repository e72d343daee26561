// Where relative module specs (spawn, serializers) are resolved from.
import { pathToFileURL } from "node:url";

/**
 * `base` as a URL: a URL as it is, a path as the directory it names (a
 * path is no URL: `"/srv/app/"` would be resolved against nothing).
 */
export function baseUrl(base: string | URL): string | URL {
  // `C:\\srv` parses as a URL of scheme "c:": a drive letter is a path.
  if (
    base instanceof URL || (URL.canParse(base) && !WINDOWS_DRIVE.test(base))
  ) {
    return base;
  }
  // pathToFileURL resolves a relative path from the current directory.
  const url = pathToFileURL(base.endsWith("/") ? base : `${base}/`);
  return url.href;
}

const WINDOWS_DRIVE = /^[a-zA-Z]:[\\/]/;
