// Whether Deno's unstable "worker-options" feature is on.
//
// Deno ends the whole process (exit code 70, uncatchable) when a Worker gets
// `deno.permissions` without that feature, and offers no API to ask for it.
// So before creating scoped workers we look for evidence that it is on:
//
// - the command line, which Deno lets a program read (/proc/self/cmdline)
//   only under --allow-all;
// - the deno.json(c) that Deno loaded: the --config file, or the nearest
//   config above the main module's folder (`deno run`) or above the working
//   directory (`deno test`, `deno bench`, `deno eval`), where read access
//   allows.
//
// Without evidence we refuse to create scoped workers and say what we saw,
// rather than let Deno end the process.

const FEATURE = "worker-options";
const FLAG = "--unstable-worker-options";

/** What the search found: the feature on, or why it could not tell. */
export type WorkerOptionsCheck = { enabled: true } | { enabled: false; seen: string };

let enabled = false;

/** Looks for evidence that the feature is on; a yes is remembered. */
export function checkWorkerOptions(): WorkerOptionsCheck {
  if (enabled) return { enabled };
  const check = detect();
  enabled = check.enabled;
  return check;
}

function detect(): WorkerOptionsCheck {
  const args = commandLine();
  if (args?.includes(FLAG)) return { enabled: true };
  if (args?.includes("--no-config")) {
    return { enabled: false, seen: `${FLAG} and a config are not on the command line` };
  }
  const explicit = args && configFlag(args);
  if (explicit) return configCheck(explicit, readConfig(explicit));
  const start = searchStart();
  if (!start) return { enabled: false, seen: "Deno found no deno.json for this main module" };
  return searchConfig(start);
}

const ALL_PERMISSIONS = ["read", "write", "net", "env", "run", "ffi", "sys"] as const;

function commandLine(): string[] | undefined {
  const granted = ALL_PERMISSIONS.every((name) =>
    Deno.permissions.querySync({ name }).state === "granted"
  );
  if (!granted) return undefined;
  try {
    return Deno.readTextFileSync("/proc/self/cmdline").split("\0");
  } catch {
    return undefined; // not Linux
  }
}

function configFlag(args: string[]): URL | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const path = arg === "--config" || arg === "-c"
      ? args[i + 1]
      : arg.startsWith("--config=")
      ? arg.slice("--config=".length)
      : undefined;
    if (path !== undefined) return new URL(path, cwd());
  }
  return undefined;
}

function cwd(): URL | undefined {
  try {
    return new URL(`file://${Deno.cwd()}/`);
  } catch {
    return undefined;
  }
}

/**
 * Where Deno started its search for deno.json: next to the main module for
 * `deno run`, in the working directory for `deno test`, `deno bench` and
 * `deno eval` (whose `Deno.test` is real, or whose main module is made up).
 */
function searchStart(): URL | undefined {
  const main = Deno.mainModule;
  const runs = Deno.test.name === "noopTest" && !/\/\$deno\$/.test(main);
  if (runs && main.startsWith("file:")) return new URL(".", main);
  return cwd();
}

type Config = { unstable?: unknown; workspace?: unknown };

/**
 * Deno's search from `start`: the nearest config decides, and a workspace
 * root above it may also turn the feature on. A config we may not read ends
 * the search.
 */
function searchConfig(start: URL): WorkerOptionsCheck {
  let nearest: { url: URL; config: Config } | undefined;
  for (let dir = start;; dir = new URL("..", dir)) {
    const found = configIn(dir);
    // Unreadable: it may be the nearest config, or a workspace root above it.
    if (found?.config === "unreadable") {
      return {
        enabled: false,
        seen: `could not tell which deno.json Deno uses, as reading ${
          decodeURIComponent(found.url.pathname)
        } needs read access (Deno uses the nearest one in ${
          decodeURIComponent(start.pathname)
        } or a folder above, or the root of its workspace)`,
      };
    }
    if (found && !nearest) {
      if (enablesFeature(found.config)) return configCheck(found.url, found.config);
      nearest = { url: found.url, config: found.config };
    } else if (found && nearest && "workspace" in found.config) {
      const root = enablesFeature(found.config) ? found : nearest;
      return configCheck(root.url, root.config);
    }
    if (dir.pathname === "/") break;
  }
  return nearest
    ? configCheck(nearest.url, nearest.config)
    : { enabled: false, seen: `there is no deno.json in ${start.pathname} or above` };
}

/** The config file in `dir`, as Deno picks it: deno.json before deno.jsonc. */
function configIn(dir: URL): { url: URL; config: Config | "unreadable" } | undefined {
  for (const name of ["deno.json", "deno.jsonc"]) {
    const url = new URL(name, dir);
    const config = readConfig(url);
    if (config !== undefined) return { url, config };
  }
  return undefined;
}

function configCheck(url: URL, config: Config | "unreadable" | undefined): WorkerOptionsCheck {
  const path = url.pathname;
  if (enablesFeature(config)) {
    return notLoaded(url, config as Config)
      ? {
        enabled: false,
        seen: `${path} lists "${FEATURE}", but Deno did not load it (--no-config?)`,
      }
      : { enabled: true };
  }
  if (config === "unreadable") return { enabled: false, seen: `${path} needs read access` };
  if (config === undefined) return { enabled: false, seen: `${path} does not exist` };
  return { enabled: false, seen: `${path} does not list "${FEATURE}" in "unstable"` };
}

/**
 * Whether Deno visibly ignored `config` (`--no-config`, or another
 * `--config`): when this module lies under the config's folder and the
 * config maps imports, resolving one of them from here fails.
 */
function notLoaded(url: URL, config: Config & { imports?: unknown }): boolean {
  const here = import.meta.url;
  if (!here.startsWith(new URL(".", url).href)) return false;
  const imports = config.imports;
  if (typeof imports !== "object" || imports === null) return false;
  const key = Object.keys(imports)[0];
  if (key === undefined) return false;
  // Held in a variable: the specifier comes from the config at run time,
  // so there is nothing for `deno publish` to analyze or rewrite.
  const resolve = import.meta.resolve;
  try {
    resolve(key.endsWith("/") ? `${key}mod.ts` : key);
    return false;
  } catch (error) {
    return /not a dependency|Relative import path/.test(String(error));
  }
}

function enablesFeature(config: Config | "unreadable" | undefined): boolean {
  const unstable = typeof config === "object" ? config.unstable : undefined;
  return Array.isArray(unstable) && unstable.includes(FEATURE);
}

/** A config file's contents; undefined when there is none. */
function readConfig(path: URL): Config | "unreadable" | undefined {
  if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") {
    return "unreadable";
  }
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    return error instanceof Deno.errors.NotFound ? undefined : "unreadable";
  }
  try {
    // Drop comments (outside strings) and trailing commas: JSONC to JSON.
    const json = text
      .replace(/"(?:\\.|[^"\\])*"|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (m) => m.startsWith('"') ? m : "")
      .replace(/,(\s*[}\]])/g, "$1");
    const config = JSON.parse(json);
    return typeof config === "object" && config !== null ? config : {};
  } catch {
    return {}; // Deno would reject it too; it turns nothing on
  }
}

/** The error for scoped workers without the feature: what was seen, what to do. */
export function workerOptionsError(name: string, seen: string): Error {
  return new Error(
    `Cannot start workers for ${name} with scoped permissions: Deno allows them only with ${FLAG} or "unstable": ["${FEATURE}"] in deno.json (and otherwise ends the process), and neither could be confirmed (${seen}; the flag is visible only under --allow-all): add "unstable": ["${FEATURE}"] to deno.json and let the main process read it, or set permissions: "inherit" to opt out of scoping`,
  );
}
