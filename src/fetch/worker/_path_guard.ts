// The second line of scoped worker permissions, installed in each worker
// before the dataset's module loads (the first line is the folder check run
// on the main thread when an epoch opens, src/_folder_check.ts).
//
// With scoped `read` or `write`, each path a Deno file call or
// `fetch("file:…")` gets is resolved here as the operating system will
// resolve it, checked against the real folders, and passed on resolved, so
// that what was checked is what is used: a `URL` or any other object is read
// once, options objects are copied once, and a relative path is made
// absolute against the working directory of the moment. Every worker but an
// "inherit" one also may not change the working directory (Deno's is the
// whole process's) nor start workers of either kind (they would run without
// this guard). node:fs and imports go to Deno directly: the first line is
// what makes them safe.

import { EventEmitter } from "node:events";
import { Worker as NodeWorker } from "node:worker_threads";
import {
  absolute,
  inside,
  normalize,
  resolvePath,
  type Resolver,
  separator,
  workingDirectory,
} from "./_paths.ts";
import { hrefOf, pathOf, type PathScopes } from "./_path_scopes.ts";

type Kind = "read" | "write";

/** How a call uses one path: checked for `kinds`, following its last symlink or not. */
interface Use {
  kinds: Kind[];
  follow: boolean;
}

const READ: Use = { kinds: ["read"], follow: true };
const WRITE: Use = { kinds: ["write"], follow: true };
const AT_LINK: Use = { kinds: ["write"], follow: false };

/** Deno's file calls, by name without `Sync`: how each uses its path arguments. */
const CALLS: Record<string, (Use | undefined)[]> = {
  readFile: [READ],
  readTextFile: [READ],
  readDir: [READ],
  stat: [READ],
  realPath: [READ],
  lstat: [{ kinds: ["read"], follow: false }],
  readLink: [{ kinds: ["read"], follow: false }],
  writeFile: [WRITE],
  writeTextFile: [WRITE],
  truncate: [WRITE],
  create: [WRITE],
  chmod: [WRITE],
  chown: [WRITE],
  utime: [WRITE],
  mkdir: [AT_LINK],
  remove: [AT_LINK],
  rename: [AT_LINK, AT_LINK],
  link: [{ kinds: ["read", "write"], follow: false }, AT_LINK],
  symlink: [undefined, AT_LINK],
  copyFile: [READ, WRITE],
};

type Functions = Record<string, (...args: unknown[]) => unknown>;

/**
 * Installs the guard in this worker; called before the dataset's module
 * loads. Without `scopes` only the working directory and nested workers
 * are guarded.
 */
export function guardWorker(scopes: PathScopes | undefined): void {
  const deno = Deno as unknown as Functions;
  seal(deno, "chdir", () => {
    throw new Deno.errors.NotCapable(
      "A dataset's worker cannot change the working directory: in Deno it is the whole process's",
    );
  });
  refuseNestedWorkers();
  if (!scopes) return;
  const guard = new Guard(scopes, {
    realPathSync: Deno.realPathSync,
    lstatSync: Deno.lstatSync,
  });
  for (const [name, uses] of Object.entries(CALLS)) {
    for (const full of [name, name + "Sync"]) {
      wrap(deno, full, (args) => uses.forEach((use, i) => use && guard.replace(args, i, use)));
    }
  }
  for (const name of ["open", "openSync"]) {
    wrap(deno, name, (args) => {
      // Read once and passed on as read: a getter cannot answer twice.
      const given = args[1] as Deno.OpenOptions | undefined;
      const options: Deno.OpenOptions = given === undefined ? { read: true } : { ...given };
      const { read, write, append, create, truncate, createNew } = options;
      const kinds: Kind[] = read ? ["read"] : [];
      if (write || append || create || truncate || createNew) kinds.push("write");
      args[1] = options;
      guard.replace(args, 0, { kinds, follow: true });
    });
  }
  for (const name of ["makeTempFile", "makeTempDir"]) {
    for (const full of [name, name + "Sync"]) {
      wrap(deno, full, (args) => {
        const options: Deno.MakeTempOptions = { ...args[0] as Deno.MakeTempOptions };
        args[0] = options;
        if (options.dir !== undefined) options.dir = guard.check(options.dir, WRITE) as string;
      });
    }
  }
  guardFetch(guard);
}

/** Checks paths against the scopes and returns them resolved. */
class Guard {
  #scopes: PathScopes;
  #resolver: Resolver;

  constructor(scopes: PathScopes, resolver: Resolver) {
    this.#scopes = scopes;
    this.#resolver = resolver;
  }

  /** Replaces `args[i]` by what {@linkcode Guard.check} returns for it. */
  replace(args: unknown[], i: number, use: Use): void {
    if (i < args.length) args[i] = this.check(args[i], use);
  }

  /**
   * The path `value` names, resolved and rooted in the declared folder it lies in (Deno
   * checks that as written); throws when it lies in none. Paths of
   * unscoped kinds, and values that are no path, are returned as they are.
   */
  check(value: unknown, use: Use): unknown {
    const scoped = use.kinds.filter((kind) => this.#scopes[kind]);
    if (scoped.length === 0 || value === null || !["string", "object"].includes(typeof value)) {
      return value;
    }
    const given = pathOf(value);
    // Deno resolves `..` as written before it uses a path; so does this.
    const written = normalize(absolute(given, this.#here()));
    const real = resolvePath(written, use.follow, this.#resolver);
    if (real === undefined) {
      // Not resolvable here (no read access to it): Deno checks it as written.
      const denied = scoped.find((kind) =>
        !this.#scopes[kind]!.some((root) => inside(written, root.given))
      );
      if (denied) throw outside(denied, given, written);
      return written;
    }
    let passed = real;
    for (const kind of scoped) {
      const root = this.#scopes[kind]!.find((root) => inside(real, root.real));
      if (!root) throw outside(kind, given, real);
      passed = root.given + real.slice(root.real.length);
    }
    return passed;
  }

  /**
   * The working directory now, as another thread may have moved it; where
   * the workers were made when it cannot be read (nothing relative can be
   * read there then).
   */
  #here(): string {
    return workingDirectory() ?? this.#scopes.cwd;
  }
}

function outside(kind: Kind, given: string, real: string): Error {
  const where = given === real ? "" : `that is "${real}", `;
  return new Deno.errors.NotCapable(
    `Requires ${kind} access to "${given}" (${where}out of the folders the dataset's workers may ${kind}), run again with the --allow-${kind} flag`,
  );
}

/** `fetch` of `file:` URLs and Requests: checked for reading, and passed on as checked. */
function guardFetch(guard: Guard): void {
  const fetch = globalThis.fetch;
  const requestUrl = Object.getOwnPropertyDescriptor(Request.prototype, "url")!.get!;
  seal(globalThis as unknown as Functions, "fetch", (input: unknown, init?: RequestInit) => {
    const href = input instanceof Request ? requestUrl.call(input) as string : hrefOf(input);
    const url = typeof href === "string" ? href : String(href);
    // Parsed as fetch parses it: the scheme in any case, spaces around it.
    const parsed = URL.parse(url);
    if (parsed?.protocol !== "file:") return fetch(input instanceof Request ? input : url, init);
    return fetch(fileUrl(guard.check(parsed, READ) as string), init);
  });
}

/** The `file:` URL of an absolute path. */
function fileUrl(path: string): string {
  return "file://" + path.split(separator()).map(encodeURIComponent).join("/");
}

/** Runs `check` on a call's arguments (it may replace them) before Deno's `name`. */
function wrap(deno: Functions, name: string, check: (args: unknown[]) => void): void {
  const original = deno[name];
  if (typeof original !== "function") return;
  seal(deno, name, function (this: unknown, ...args: unknown[]) {
    check(args);
    return original.apply(this, args);
  });
}

/** Replaces `object[name]` for good: user code cannot put the original back. */
function seal(object: Record<string, unknown>, name: string, value: unknown): void {
  Object.defineProperty(object, name, { value, writable: false, configurable: false });
}

function refuseNestedWorkers(): void {
  const refuse = () => {
    throw new Deno.errors.NotCapable(
      "A dataset's worker cannot start workers: they would run outside the dataset's checks",
    );
  };
  seal(globalThis as unknown as Functions, "Worker", function Worker() {
    refuse();
  });
  // node:worker_threads builds its Worker on EventEmitter, whose constructor
  // calls EventEmitter.init. The prototype is checked directly, since user
  // code can redefine NodeWorker[Symbol.hasInstance].
  const emitter = EventEmitter as unknown as Functions;
  const init = emitter.init!;
  const isPrototypeOf = Object.prototype.isPrototypeOf;
  const prototype = NodeWorker.prototype;
  seal(emitter, "init", function (this: unknown, ...args: unknown[]) {
    if (isPrototypeOf.call(prototype, this as object)) refuse();
    return init.apply(this, args);
  });
}
