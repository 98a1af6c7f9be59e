// The first line of scoped worker permissions, run on the main thread each
// time an epoch opens, before any worker gets the epoch.
//
// Deno checks a path as written, so a symlink that already exists inside an
// allowed folder leads a worker out of it, whatever API the worker uses
// (node:fs, imports, nested workers included). A scoped worker cannot create
// a symlink (that takes unscoped read and write), but with write access it
// can move one, which changes where a relative link leads. So: a folder the
// workers may write holds no symlink at all, and a folder they may read
// holds none that leads out of the folders they may read. Then every path a
// worker can name resolves inside its folders, and stays so while it works.

import { absolute, inside, join, resolvePath } from "./_paths.ts";
import type { PathScopes, Root } from "./_path_scopes.ts";
import { describeError } from "../../_describe.ts";

/** A symlink found in a scoped folder, and why it is refused. */
interface Link {
  path: string;
  target: string;
  root: Root;
}

/**
 * Refuses to start the workers of `name` when a scoped folder holds a
 * symlink a worker could leave it through, naming the link.
 */
export async function checkFolders(
  scopes: PathScopes,
  name: string,
  signal: AbortSignal,
): Promise<void> {
  const reads = scopes.read ?? [];
  const isOutside = (target: string | undefined) =>
    target === undefined || !reads.some((root) => inside(target, root.real));
  for (const root of scopes.write ?? []) await refuseLinkedRoot(root, name);
  for (const root of outermost(scopes.write ?? [])) {
    const link = await findLink(root, () => true, name, signal);
    if (link) {
      throw refusal(
        name,
        link,
        "a folder the workers may write, which may hold no symlink (Deno follows one when writing, and a worker could move it to lead elsewhere)",
        "let the workers only read that folder",
      );
    }
  }
  for (const root of outermost(reads)) {
    const link = await findLink(root, isOutside, name, signal);
    if (link) {
      throw refusal(
        name,
        link,
        `and it leads out of the folders the workers may read (${
          reads.map((root) => JSON.stringify(root.given)).join(", ")
        })`,
        "add the folder it leads to to permissions.read",
      );
    }
  }
}

/**
 * Refuses a write folder declared through a symlink: Deno lets a worker
 * remove or move the path it was granted, which would be the link itself.
 */
async function refuseLinkedRoot(root: Root, name: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(root.given);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return; // the workers may make it, as a folder
    throw unreadable(name, root.given, error);
  }
  if (info.isSymlink) {
    throw new Deno.errors.NotCapable(
      `Cannot start workers for ${name} as ${
        JSON.stringify(root.given)
      }, a folder the workers may write, is a symlink to "${root.real}": a worker could remove or move the link itself; declare "${root.real}" instead`,
    );
  }
}

/** The roots that lie under no other root: walking them covers the rest. */
function outermost(roots: Root[]): Root[] {
  return roots.filter((root, i) =>
    roots.findIndex((other) => other.real === root.real) === i &&
    !roots.some((other) => other.real !== root.real && inside(root.real, other.real))
  );
}

/** The first symlink under `root` whose resolved target `refused` rejects. */
async function findLink(
  root: Root,
  refused: (target: string | undefined) => boolean,
  name: string,
  signal: AbortSignal,
): Promise<Link | undefined> {
  const folders = [root.real];
  for (let folder = folders.pop(); folder !== undefined; folder = folders.pop()) {
    signal.throwIfAborted();
    for await (const entry of entries(folder, name)) {
      const path = join(folder, entry.name);
      if (entry.isSymlink) {
        // The target as the kernel resolves it: relative to where the link really is.
        const text = await Deno.readLink(path);
        const target = resolvePath(absolute(text, folder));
        if (refused(target)) return { path, target: target ?? text, root };
      } else if (entry.isDirectory) {
        folders.push(path);
      }
    }
  }
  return undefined;
}

/** The entries of `folder`; none when it is a file or does not exist yet. */
async function* entries(folder: string, name: string): AsyncGenerator<Deno.DirEntry> {
  try {
    yield* Deno.readDir(folder);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) return;
    throw unreadable(name, folder, error);
  }
}

function unreadable(name: string, path: string, error: unknown): Error {
  return new Error(
    `Cannot start workers for ${name} with scoped permissions: the main process must read "${path}" to check that the workers cannot leave their folders through a symlink (${
      describeError(error)
    })`,
    { cause: error },
  );
}

function refusal(name: string, link: Link, where: string, fix: string): Error {
  return new Deno.errors.NotCapable(
    `Cannot start workers for ${name} as "${link.path}" is a symlink to "${link.target}" in ${
      JSON.stringify(link.root.given)
    }, ${where}: remove the link, or ${fix}`,
  );
}
