// What a Deno permission error asks for, and how to grant it through a
// dataset's `permissions` option.

import { attempt, describeError, isError } from "../../_describe.ts";
import { CAUSE_DEPTH } from "./_serialize_error.ts";
import { absolute, isAbsolute, normalize, workingDirectory } from "./_paths.ts";

/** The permission a Deno permission error asks for, if it is one. */
export interface MissingPermission {
  /** `read`, `write`, `net`, `env`, `run`, `ffi`, `sys`, `import` or `all`. */
  name: string;
  /** The path, host, variable, command or API it was asked for. */
  target?: string;
  /** Where `target`, a path, really leads, when that differs (through `..` or a symlink). */
  resolved?: string;
}

/**
 * The path a read or write permission error names, made absolute with `..`
 * resolved, if that differs. Only as written: the error may come from a
 * hostile worker, so the main thread touches no file it names (a worker's
 * guard names where a symlink leads itself).
 */
function resolved([, name, target]: RegExpExecArray): string | undefined {
  if ((name !== "read" && name !== "write") || target === undefined) return undefined;
  const cwd = workingDirectory();
  if (cwd === undefined && !isAbsolute(target)) return undefined;
  const written = normalize(absolute(target, cwd ?? ""));
  return written === target ? undefined : written;
}

const REQUIRES = /Requires (\w+) access(?: to "([^"]*)"(?: \(that is "([^"]*)")?)?/;

/** Finds the permission a Deno `NotCapable` error (or its cause) names. */
export function missingPermission(error: unknown, depth = 0): MissingPermission | undefined {
  if (!isError(error) || depth >= CAUSE_DEPTH) return undefined;
  const match = REQUIRES.exec(describeError(error));
  if (match) return { name: match[1]!, target: match[2], resolved: match[3] ?? resolved(match) };
  const cause = attempt(() => error.cause);
  return cause.ok ? missingPermission(cause.value, depth + 1) : undefined;
}

/** How to grant `missing` through a dataset's `permissions` option. */
export function permissionAdvice(missing: MissingPermission): string {
  if (missing.name === "all") {
    return `add permissions: "inherit" to the dataset's options`;
  }
  const target = missing.resolved ?? missing.target;
  const value = target === undefined ? "true" : `[${JSON.stringify(target)}]`;
  return `add { ${missing.name}: ${value} } to the dataset's permissions option`;
}
