// Where a path leads, for the checks of scoped worker permissions. Deno
// checks a path as written; the operating system follows symlinks. Both
// checks (the folder check on the main thread and the guard in workers)
// resolve a path the way the operating system will once a worker uses it.

/** The path separator of this platform. */
export function separator(): string {
  return Deno.build.os === "windows" ? "\\" : "/";
}

/** The working directory; undefined without read access to it. */
export function workingDirectory(): string | undefined {
  try {
    return Deno.cwd();
  } catch {
    return undefined;
  }
}

/** Whether `path` is absolute. */
export function isAbsolute(path: string): boolean {
  return path.startsWith(separator()) || /^[A-Za-z]:[\\/]/.test(path);
}

/** `path` made absolute against `cwd`, as the operating system would (`..` left in place). */
export function absolute(path: string, cwd: string): string {
  return isAbsolute(path) ? path : join(cwd, path);
}

/** The absolute `path` with `.`, `..` and repeated separators resolved as written. */
export function normalize(path: string): string {
  const [head, ...rest] = path.split(separator());
  const parts: string[] = [];
  for (const part of rest) {
    if (part === "..") parts.pop();
    else if (part !== "" && part !== ".") parts.push(part);
  }
  return head + separator() + parts.join(separator());
}

/** `name` in `folder`. */
export function join(folder: string, name: string): string {
  return folder.endsWith(separator()) ? folder + name : folder + separator() + name;
}

/** The folder that holds `path` (itself for the root). */
function parent(path: string): string {
  const cut = path.lastIndexOf(separator());
  return cut <= 0 ? path.slice(0, cut + 1) || separator() : path.slice(0, cut);
}

/** Whether `path` is `root` or lies under it. */
export function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(separator()) ? root : root + separator());
}

/** The two file system calls path resolution needs; a worker's guard passes Deno's own, which it wraps. */
export interface Resolver {
  realPathSync(path: string): string;
  lstatSync(path: string): Deno.FileInfo;
}

/**
 * Where the absolute `path` leads, as the operating system resolves it:
 * each part that exists resolved (symlinks followed, `..` in a link's
 * target taken from where the link really is), each part that does not
 * exist yet as written, which is how it will resolve once created, since a
 * scoped worker can create plain files and folders but no symlink. With
 * `follow: false` the last part is kept as it is (calls such as `remove`
 * and `rename` act on a symlink, not on where it leads). Undefined when a
 * part cannot be resolved (no permission to, a loop of links, a link to a
 * link that does not lead anywhere yet).
 */
export function resolvePath(
  path: string,
  follow = true,
  resolver: Resolver = Deno,
): string | undefined {
  const whole = follow ? real(path, resolver) : undefined;
  if (whole !== undefined) return whole ?? undefined;
  const [head, ...rest] = path.split(separator());
  const parts = rest.filter((part) => part !== "" && part !== ".");
  let at = head + separator();
  for (const [i, part] of parts.entries()) {
    if (part === "..") {
      at = parent(at);
      continue;
    }
    const next = join(at, part);
    if (!follow && i === parts.length - 1) return next;
    const resolved = real(next, resolver);
    if (resolved === null) return undefined;
    at = resolved ?? next;
  }
  return at;
}

/**
 * The real path of `path`; undefined when it does not exist, null when that
 * cannot be told (including a symlink that leads nowhere yet: where it will
 * lead depends on its target, not on its name).
 */
function real(path: string, resolver: Resolver): string | undefined | null {
  try {
    return resolver.realPathSync(path);
  } catch (error) {
    const missing = error instanceof Deno.errors.NotFound ||
      error instanceof Deno.errors.NotADirectory;
    return missing && !isLink(path, resolver) ? undefined : null;
  }
}

function isLink(path: string, resolver: Resolver): boolean {
  try {
    return resolver.lstatSync(path).isSymlink;
  } catch {
    return false;
  }
}
