// The folders a dataset's workers may read and write, resolved on the main
// thread when the workers are made: what both checks of scoped permissions
// (src/_folder_check.ts, src/_path_guard.ts) check against.

import { absolute, normalize, resolvePath } from "./_paths.ts";

/** A folder a worker may use: as declared (absolute), and where it really is. */
export interface Root {
  given: string;
  real: string;
}

/** The folders a worker may read and write; undefined means unscoped. */
export interface PathScopes {
  read?: Root[];
  write?: Root[];
  /** The main process's working directory when the workers were made. */
  cwd: string;
}

/** The scopes to guard for `permissions`, resolved on the main thread. */
export function pathScopes(permissions: unknown): PathScopes | undefined {
  if (typeof permissions !== "object" || permissions === null) return undefined;
  const { read, write } = permissions as { read?: unknown; write?: unknown };
  const cwd = Deno.cwd();
  const scopes: PathScopes = { cwd };
  if (Array.isArray(read)) scopes.read = read.map((path) => root(path, cwd));
  if (Array.isArray(write)) scopes.write = write.map((path) => root(path, cwd));
  return scopes.read || scopes.write ? scopes : undefined;
}

function root(path: string | URL, cwd: string): Root {
  const given = normalize(absolute(pathOf(path), cwd));
  return { given, real: resolvePath(given) ?? given };
}

/** A path given as a string, a `URL` (of any subclass) or any object, read once. */
export function pathOf(path: unknown): string {
  if (typeof path === "string") return path;
  const href = hrefOf(path);
  if (typeof href === "string") {
    const url = new URL(href);
    if (url.protocol !== "file:") {
      throw new TypeError(`Must be a file URL: current value is ${href}`);
    }
    return decodeURIComponent(url.pathname);
  }
  return String(path);
}

const HREF = Object.getOwnPropertyDescriptor(URL.prototype, "href")!.get!;

/** The real `href` of a `URL`, whatever a subclass overrides; other values as they are. */
export function hrefOf(value: unknown): unknown {
  return value instanceof URL ? HREF.call(value) as string : value;
}
