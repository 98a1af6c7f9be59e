// Whether Deno's unstable "worker-options" feature is on.
//
// Deno ends the whole process (exit code 70, uncatchable) when a Worker gets
// `deno.permissions` without that feature, and offers no API to ask for it.
// So before creating scoped workers we look for evidence that it is on:
//
// - the command line, which Deno lets a program read (/proc/self/cmdline)
//   only under --allow-all;
// - the deno.json(c) that Deno loaded: the --config file, or the nearest
//   config above the main module and above the working directory (Deno
//   searches from one or the other, depending on the subcommand), where read
//   access allows.
//
// Without evidence we refuse to create scoped workers and say why, rather
// than let Deno end the process.

const FEATURE = "worker-options";
const FLAG = "--unstable-worker-options";

let found = false;

/** Whether evidence shows the feature is on; a yes is cached. */
export function workerOptionsEnabled(): boolean {
  return found ||= detect();
}

function detect(): boolean {
  const args = commandLine();
  if (args) {
    if (args.includes(FLAG)) return true;
    if (args.includes("--no-config")) return false;
    const explicit = configFlag(args);
    if (explicit) return enablesFeature(readConfig(explicit));
  }
  // Deno looks for deno.json from the main module's folder (deno run) or
  // from the working directory (deno test, deno eval): trust a config only
  // when both searches find one that turns the feature on.
  const starts = [Deno.mainModule.startsWith("file:") ? new URL(".", Deno.mainModule) : undefined];
  try {
    starts.push(new URL(`file://${Deno.cwd()}/`));
  } catch {
    starts.push(undefined);
  }
  return starts.every((start) => start !== undefined && searchEnablesFeature(start));
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
    if (path !== undefined) return new URL(path, `file://${Deno.cwd()}/`);
  }
  return undefined;
}

type Config = { unstable?: unknown; workspace?: unknown };

/**
 * Deno's search from `start`: the nearest config decides, and a workspace
 * root above it may also turn the feature on. A config that may exist but
 * cannot be read ends the search with a no.
 */
function searchEnablesFeature(start: URL): boolean {
  let nearest: Config | undefined;
  for (let dir = start;; dir = new URL("..", dir)) {
    for (const name of ["deno.json", "deno.jsonc"]) {
      const config = readConfig(new URL(name, dir));
      if (config === "unreadable") return false;
      if (config === undefined) continue;
      if (enablesFeature(config)) return nearest === undefined || "workspace" in config;
      if (nearest === undefined) nearest = config;
      else if ("workspace" in config) return false;
      break;
    }
    if (dir.pathname === "/") return false;
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

/** The error for scoped workers without the feature: what to do about it. */
export function workerOptionsError(name: string): Error {
  return new Error(
    `Cannot start workers for ${name} with scoped permissions: Deno allows them only with ${FLAG} (or "unstable": ["${FEATURE}"] in deno.json) and otherwise ends the process, and neither was found (the flag is visible only under --allow-all, deno.json only with read access to it). Add "unstable": ["${FEATURE}"] to deno.json, or set permissions: "inherit" to opt out of scoping`,
  );
}
