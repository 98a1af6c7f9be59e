// Whether Deno's unstable "worker-options" feature is on.
//
// Deno ends the whole process (exit code 70, uncatchable) when a Worker gets
// `deno.permissions` without that feature, and offers no API to ask for it.
// So before creating scoped workers we look for evidence that it is on:
//
// - the command line, which Deno lets a program read (/proc/self/cmdline)
//   only under --allow-all;
// - the deno.json(c) files Deno may have loaded: those above the main module
//   and the working directory (or the --config file), where read access
//   allows.
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
  if (args?.some((arg) => arg === FLAG)) return true;
  if (args?.includes("--no-config")) return false;
  const explicit = args && configFlag(args);
  return (explicit ? [explicit] : configCandidates()).some(configEnablesFeature);
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

function configFlag(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--config" || arg === "-c") return fileUrl(args[i + 1]);
    if (arg.startsWith("--config=")) return fileUrl(arg.slice("--config=".length));
  }
  return undefined;
}

function fileUrl(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return new URL(path, `file://${Deno.cwd()}/`).href;
  } catch {
    return undefined;
  }
}

function configCandidates(): string[] {
  const starts: string[] = [];
  if (Deno.mainModule.startsWith("file:")) starts.push(new URL(".", Deno.mainModule).href);
  try {
    starts.push(new URL(`file://${Deno.cwd()}/`).href);
  } catch {
    // no access to the working directory
  }
  const candidates = new Set<string>();
  for (const start of starts) {
    for (let dir = new URL(start);; dir = new URL("..", dir)) {
      candidates.add(new URL("deno.json", dir).href);
      candidates.add(new URL("deno.jsonc", dir).href);
      if (dir.pathname === "/") break;
    }
  }
  return [...candidates];
}

function configEnablesFeature(url: string): boolean {
  const unstable = (readJsonc(url) as { unstable?: unknown } | undefined)?.unstable;
  return Array.isArray(unstable) && unstable.includes(FEATURE);
}

function readJsonc(url: string): unknown {
  const path = new URL(url);
  if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") {
    return undefined;
  }
  try {
    const text = Deno.readTextFileSync(path);
    // Drop comments (outside strings) and trailing commas: JSONC to JSON.
    const json = text
      .replace(/"(?:\\.|[^"\\])*"|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (m) => m.startsWith('"') ? m : "")
      .replace(/,(\s*[}\]])/g, "$1");
    return JSON.parse(json);
  } catch {
    return undefined; // missing or unreadable
  }
}

/** The error for scoped workers without the feature: what to do about it. */
export function workerOptionsError(name: string): Error {
  return new Error(
    `Cannot start workers for ${name} with scoped permissions: Deno allows them only with ${FLAG} (or "unstable": ["${FEATURE}"] in deno.json) and otherwise ends the process, and neither was found (the flag is visible only under --allow-all, deno.json only with read access to it). Add "unstable": ["${FEATURE}"] to deno.json, or set permissions: "inherit" to opt out of scoping`,
  );
}
