// Deno checks a scoped read or write permission against the path as given,
// not the file it leads to: a symlink inside an allowed folder that points
// out of it is followed. A dataset's workers promise only the folders the
// dataset declares, so with scoped `read` or `write` their file system
// calls are checked again here against the real path, before user code
// runs. This covers the Deno namespace and fetch of file: URLs; node:fs
// calls go straight to Deno's ops and are not covered.

/** Canonical folders a worker may read and write; undefined means unscoped. */
export interface PathScopes {
  read?: string[];
  write?: string[];
  /** The main process's working directory, for relative paths. */
  cwd: string;
}

type Kind = "read" | "write";
type PathLike = string | URL;

/** The path separator; a function, as this module also loads where Deno is not. */
function separator(): string {
  return Deno.build.os === "windows" ? "\\" : "/";
}

/** The scopes to guard for `permissions`, resolved on the main thread. */
export function pathScopes(permissions: unknown): PathScopes | undefined {
  if (typeof permissions !== "object" || permissions === null) return undefined;
  const { read, write } = permissions as { read?: unknown; write?: unknown };
  const scopes: PathScopes = { cwd: Deno.cwd() };
  if (Array.isArray(read)) scopes.read = read.map(canonicalRoot);
  if (Array.isArray(write)) scopes.write = write.map(canonicalRoot);
  return scopes.read || scopes.write ? scopes : undefined;
}

function canonicalRoot(path: PathLike): string {
  try {
    return Deno.realPathSync(path);
  } catch {
    return toPath(path, Deno.cwd());
  }
}

/** Installs the checks in this worker; called before the dataset's module loads. */
export function guardPaths(scopes: PathScopes): void {
  const guard = (kind: Kind, path: unknown, parentOnly = false) => {
    const roots = scopes[kind];
    if (!roots || (typeof path !== "string" && !(path instanceof URL))) return;
    const real = canonical(toPath(path, scopes.cwd), parentOnly);
    if (real === undefined || roots.some((root) => inside(real, root))) return;
    throw new Deno.errors.NotCapable(
      `Requires ${kind} access to "${real}", run again with the --allow-${kind} flag (reached through "${path}", which leads out of the folders the dataset's workers may ${kind})`,
    );
  };
  const deno = Deno as unknown as Record<string, (...args: unknown[]) => unknown>;
  const wrap = (name: string, check: (args: unknown[]) => void) => {
    const original = deno[name];
    if (typeof original !== "function") return;
    deno[name] = function (this: unknown, ...args: unknown[]) {
      check(args);
      return original.apply(this, args);
    };
  };
  for (const sync of ["", "Sync"]) {
    for (const name of ["readFile", "readTextFile", "readDir", "stat"]) {
      wrap(name + sync, ([path]) => guard("read", path));
    }
    wrap("lstat" + sync, ([path]) => guard("read", path, true));
    for (const name of ["writeFile", "writeTextFile", "truncate", "create", "mkdir"]) {
      wrap(name + sync, ([path]) => guard("write", path, true));
    }
    wrap("remove" + sync, ([path]) => guard("write", path, true));
    wrap("open" + sync, ([path, options]) => {
      const { read = true, write, append, create, truncate, createNew } =
        (options ?? {}) as Deno.OpenOptions;
      if (read) guard("read", path);
      if (write || append || create || truncate || createNew) guard("write", path, true);
    });
    wrap("copyFile" + sync, ([from, to]) => {
      guard("read", from);
      guard("write", to, true);
    });
    wrap("rename" + sync, ([from, to]) => {
      guard("write", from, true);
      guard("write", to, true);
    });
  }
  const fetch = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (url.startsWith("file:")) guard("read", new URL(url));
    return fetch(input, init);
  };
}

function toPath(path: PathLike, cwd: string): string {
  const text = path instanceof URL || path.startsWith("file:")
    ? decodeURIComponent(new URL(path).pathname)
    : path;
  return text.startsWith(separator()) || /^[A-Za-z]:[\\/]/.test(text)
    ? text
    : `${cwd}${separator()}${text}`;
}

/**
 * The real path of `path`, following every symlink (with `parentOnly`,
 * all but its last part, which the call itself does not follow); for a
 * path that does not exist yet, its nearest existing folder's. Undefined
 * when it cannot be resolved: the call then reports its own error.
 */
function canonical(path: string, parentOnly = false): string | undefined {
  const cut = path.lastIndexOf(separator());
  const [parent, last] = [path.slice(0, cut) || separator(), path.slice(cut + 1)];
  if (!parentOnly) {
    try {
      return Deno.realPathSync(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) return undefined;
    }
  }
  if (parent === path) return undefined;
  const base = canonical(parent);
  return base === undefined ? undefined : join(base, last);
}

function join(folder: string, name: string): string {
  return folder.endsWith(separator()) ? folder + name : folder + separator() + name;
}

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(separator()) ? root : root + separator());
}
