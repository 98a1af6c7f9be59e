// The code's layout, checked from the source text: no import cycles, entry
// points that only re-export, public files exported and private ones not,
// public type files that stay out of the engine, and which folder may import
// which. Needs only --allow-read:
//
//   deno test --no-check --allow-read tests/layout_test.ts
//
// Imports are found in each file's code with its comments (JSDoc examples)
// blanked and its strings emptied, so only real static `import … from`,
// `import type`, `import "…"` and `export … from` statements count, also
// when they span lines. Dynamic `import()` and `new URL(…, import.meta.url)`
// are not followed.

import { AssertionError } from "node:assert";
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** The entry points, each read alone: docs and `export * from "./src/…";` only. */
const ENTRY_POINTS = ["mod.ts", "tfjs.ts", "wire.ts", "testing.ts", "remote.ts"];

/** Public files that hold types (and the one error class) and never import the engine. */
const PUBLIC_TYPE_FILES = [
  "src/options.ts",
  "src/batch_error.ts",
  "src/epoch_stats.ts",
  "src/epoch_cursor.ts",
  "src/worker_info.ts",
  "src/array_types.ts",
  "src/py_dataset_hooks.ts",
  "src/wire/types.ts",
];

/**
 * What a folder (a path ending in `/`) or a file may import. A target is
 * a folder (prefix) or a file; bare specifiers (`node:…`, npm packages) are
 * outside every `only` list.
 */
interface FolderRule {
  /**
   * The files the rule is about: a folder ending in `/`, the private files
   * of a folder (`src/_`), or one file.
   */
  files: string;
  /** When set, the only folders and files they may import. */
  only?: string[];
  /** Folders and files they may not import… */
  never?: string[];
  /** …apart from these. */
  except?: string[];
  /** Whether their code may not mention `Deno` (it runs in browsers). */
  noDeno?: boolean;
  /** Why, for the failure message. */
  why: string;
}

const FOLDER_RULES: FolderRule[] = [
  {
    files: "src/wire/",
    only: [
      "src/wire/",
      "src/array_types.ts",
      "src/_arrays.ts",
      "src/_describe.ts",
      "src/batch_error.ts",
    ],
    noDeno: true,
    why: "./wire uses web standards only and runs in browsers",
  },
  {
    files: "src/tfjs/",
    never: ["src/fetch/", "src/epoch/"],
    why: "./tfjs adapts batches and epochs; it does not open or fetch them",
  },
  {
    files: "src/testing/",
    never: ["src/fetch/", "src/epoch/", "src/wire/", "src/tfjs/"],
    except: ["src/epoch/_seeds.ts"],
    why: "./testing checks datasets through PyDataset, with the seeds an epoch gives",
  },
  {
    files: "src/epoch/",
    never: ["src/wire/", "src/tfjs/", "src/testing/"],
    why: "an epoch drives the fetchers; the adapters build on epochs, not the other way round",
  },
  {
    files: "src/fetch/",
    never: ["src/epoch/", "src/wire/", "src/tfjs/", "src/testing/"],
    why: "a Fetcher knows nothing about epochs or streams",
  },
  {
    files: "src/fetch/worker/",
    never: ["src/fetch/"],
    except: ["src/fetch/worker/", "src/fetch/_fetcher.ts", "src/fetch/_job_queues.ts"],
    why: "the workers build on the Fetcher interface and its queues only",
  },
  {
    files: "src/fetch/http/",
    never: ["src/fetch/"],
    except: ["src/fetch/http/", "src/fetch/_fetcher.ts", "src/fetch/_slots.ts"],
    why: "the HTTP fetcher builds on the Fetcher interface and the main thread's slots only",
  },
  {
    files: "src/remote/",
    never: ["src/fetch/worker/", "src/tfjs/", "src/testing/"],
    why:
      "./remote serves and reads datasets through PyDataset, the wire format and the HTTP fetcher",
  },
  {
    files: "src/_",
    never: ["src/epoch/", "src/fetch/", "src/wire/", "src/tfjs/", "src/testing/"],
    why: "the src/_*.ts helpers are the base every layer shares",
  },
  {
    files: "src/",
    never: ["tests/", "examples/", "bench/"],
    why: "the published package holds src/ only",
  },
];

interface Import {
  /** The 1-based line the statement starts on. */
  line: number;
  specifier: string;
  /** The repository-relative path a relative specifier resolves to, else undefined. */
  target?: string;
  /** Whether the statement is `export * from` (re-exporting every symbol). */
  exportsAll: boolean;
}

interface SourceFile {
  path: string;
  /** The text with comments blanked, strings kept. */
  code: string;
  /** The text with comments blanked and the contents of strings, templates and regexes too. */
  bare: string;
  imports: Import[];
}

// Scanning

const KEYWORDS_BEFORE_EXPRESSION = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);

/** Blanks `text` from `start` to `end` in `chars`, keeping newlines (and so line numbers). */
function blank(chars: string[], start: number, end: number): void {
  for (let i = start; i < end; i++) if (chars[i] !== "\n") chars[i] = " ";
}

/** Where a string literal opened at `start` ends (after its closing quote). */
function stringEnd(text: string, start: number): number {
  const quote = text[start];
  let i = start + 1;
  while (i < text.length && text[i] !== quote && text[i] !== "\n") i += text[i] === "\\" ? 2 : 1;
  return Math.min(i + 1, text.length);
}

/** Where a regex literal opened at `start` ends (after its flags). */
function regexEnd(text: string, start: number): number {
  let i = start + 1;
  let inClass = false;
  while (i < text.length && text[i] !== "\n") {
    const c = text[i];
    if (c === "\\") i++;
    else if (c === "[") inClass = true;
    else if (c === "]") inClass = false;
    else if (c === "/" && !inClass) break;
    i++;
  }
  i++;
  while (i < text.length && /[a-z]/i.test(text[i]!)) i++;
  return Math.min(i, text.length);
}

/**
 * Scans a template's text from `start` (just after "`" or a closing `}`):
 * its end, and whether it stopped at a `${`.
 */
function templatePart(text: string, start: number): { end: number; interpolation: boolean } {
  let i = start;
  while (i < text.length) {
    if (text[i] === "\\") i += 2;
    else if (text[i] === "`") return { end: i + 1, interpolation: false };
    else if (text[i] === "$" && text[i + 1] === "{") return { end: i + 2, interpolation: true };
    else i++;
  }
  return { end: text.length, interpolation: false };
}

/** The text with comments blanked (`code`), and with literals' contents blanked too (`bare`). */
function scan(text: string): { code: string; bare: string } {
  // By UTF-16 unit, as string offsets count.
  const code = text.split("");
  const bare = text.split("");
  const templates: number[] = []; // brace depth at each open `${`
  let depth = 0;
  let previous = ""; // the last token: a word, or one punctuation character
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === "/" && next === "/") {
      const end = text.indexOf("\n", i);
      const stop = end === -1 ? text.length : end;
      blank(code, i, stop);
      blank(bare, i, stop);
      i = stop;
    } else if (c === "/" && next === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end === -1 ? text.length : end + 2;
      blank(code, i, stop);
      blank(bare, i, stop);
      i = stop;
    } else if (c === '"' || c === "'") {
      const end = stringEnd(text, i);
      blank(bare, i + 1, end - 1);
      previous = c;
      i = end;
    } else if (c === "`" || (c === "}" && templates.at(-1) === depth)) {
      if (c === "}") templates.pop();
      const part = templatePart(text, i + 1);
      blank(bare, i + 1, part.interpolation ? part.end - 2 : part.end - 1);
      if (part.interpolation) templates.push(depth);
      previous = part.interpolation ? "{" : "`";
      i = part.end;
    } else if (
      c === "/" && (!/^[\w$)\]"'`]/.test(previous) || KEYWORDS_BEFORE_EXPRESSION.has(previous))
    ) {
      const end = regexEnd(text, i);
      blank(bare, i + 1, end);
      previous = "/";
      i = end;
    } else if (/[\w$]/.test(c)) {
      const word = /[\w$]+/y;
      word.lastIndex = i;
      previous = word.exec(text)![0];
      i += previous.length;
    } else {
      if (c === "{") depth++;
      if (c === "}") depth--;
      if (!/\s/.test(c)) previous = c;
      i++;
    }
  }
  return { code: code.join(""), bare: bare.join("") };
}

// Finding imports

/** `import … from "x"`, `import type … from "x"`, `export … from "x"`, over several lines. */
const FROM_STATEMENT =
  /^[ \t]*(?:import|export)\s+(?:type\s+)?(?:[\w$]+\s*,?\s*)?(?:\*\s*(?:as\s+[\w$]+\s*)?|\{[^}]*\}\s*)?from\s*(["'])/gm;
/** `import "x"`. */
const SIDE_EFFECT_IMPORT = /^[ \t]*import\s*(["'])/gm;

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

/** The repository-relative path `specifier` names from `from`, or undefined if not relative. */
function resolve(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) return undefined;
  return decodeURIComponent(new URL(specifier, `file:///${from}`).pathname.slice(1));
}

function findImports(path: string, code: string, bare: string): Import[] {
  const imports: Import[] = [];
  for (const pattern of [FROM_STATEMENT, SIDE_EFFECT_IMPORT]) {
    for (const match of bare.matchAll(pattern)) {
      // The specifier's quotes are kept in `bare`; read its text from `code`.
      const open = match.index + match[0].length;
      const close = code.indexOf(match[1]!, open);
      const specifier = code.slice(open, close);
      const start = match.index + match[0].search(/\S/);
      imports.push({
        line: lineAt(code, start),
        specifier,
        target: resolve(path, specifier),
        exportsAll: /^\s*export\s+\*\s+from/.test(match[0]),
      });
    }
  }
  return imports.sort((a, b) => a.line - b.line);
}

// Loading the tree

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(new URL(path, ROOT));
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** The TypeScript and JavaScript files under `folder`, repository-relative and sorted. */
async function modulesUnder(folder: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(new URL(folder, ROOT))) {
    const path = `${folder}${entry.name}`;
    if (entry.isDirectory) found.push(...await modulesUnder(`${path}/`));
    else if (entry.isFile && /\.(ts|tsx|mts|js|mjs)$/.test(entry.name)) found.push(path);
  }
  return found.sort();
}

async function load(path: string): Promise<SourceFile> {
  const text = await Deno.readTextFile(new URL(path, ROOT));
  const { code, bare } = scan(text);
  return { path, code, bare, imports: findImports(path, code, bare) };
}

function matches(path: string, pattern: string): boolean {
  const prefix = pattern.endsWith("/") || pattern.endsWith("_");
  return prefix ? path.startsWith(pattern) : path === pattern;
}

function isPrivate(path: string): boolean {
  return path.slice(path.lastIndexOf("/") + 1).startsWith("_");
}

/** Fails with every problem, one a line, when there are any. */
function assertNone(problems: string[], summary: string): void {
  if (problems.length === 0) return;
  throw new AssertionError({
    message: `${summary} (${problems.length}):\n  ${problems.join("\n  ")}`,
  });
}

// Cycles

/** The strongly connected sets of the graph with more than one file (or a self-import). */
function cyclicSets(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const sets: string[][] = [];
  function visit(node: string): void {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const set: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      set.push(member);
    } while (member !== node);
    if (set.length > 1 || graph.get(node)?.includes(node)) sets.push(set.sort());
  }
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return sets.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** A shortest cycle through the first file of `set`, as `a → b → a`. */
function shortestCycle(graph: Map<string, string[]>, set: string[]): string {
  const start = set[0]!;
  const members = new Set(set);
  const cameFrom = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    for (const next of graph.get(queue[i]!) ?? []) {
      if (!members.has(next)) continue;
      if (next === start) {
        const path: string[] = [];
        for (let node = queue[i]!; node !== start; node = cameFrom.get(node)!) path.unshift(node);
        return [start, ...path, start].join(" → ");
      }
      if (cameFrom.has(next)) continue;
      cameFrom.set(next, queue[i]!);
      queue.push(next);
    }
  }
  return set.join(" → ");
}

// The test

Deno.test("the code's layout holds", async (t) => {
  const entryPoints: string[] = [];
  const missingEntryPoints: string[] = [];
  for (const path of ENTRY_POINTS) {
    (await exists(path) ? entryPoints : missingEntryPoints).push(path);
  }
  const srcPaths = await modulesUnder("src/");
  const files = new Map<string, SourceFile>();
  for (const file of await Promise.all([...srcPaths, ...entryPoints].map(load))) {
    files.set(file.path, file);
  }
  const src = srcPaths.map((path) => files.get(path)!);
  assert.ok(src.length > 0, "Expected TypeScript files under src/");

  await t.step("no import cycles among src/ and the entry points", () => {
    const graph = new Map<string, string[]>();
    for (const file of files.values()) {
      const targets = file.imports.flatMap((
        i,
      ) => (i.target && files.has(i.target) ? [i.target] : []));
      graph.set(file.path, [...new Set(targets)].sort());
    }
    const cycles = cyclicSets(graph).map((set) =>
      shortestCycle(graph, set) +
      (set.length > 2 ? ` (cycles join ${set.length} files: ${set.join(", ")})` : "")
    );
    assertNone(cycles, "Expected no import cycles, found");
  });

  await t.step('entry points hold only `export * from "./src/…";` besides comments', () => {
    const problems = missingEntryPoints.map((path) => `${path} does not exist`);
    for (const path of entryPoints) {
      files.get(path)!.code.split("\n").forEach((line, i) => {
        if (line.trim() === "" || /^export \* from "\.\/src\/[^"]+";$/.test(line.trim())) return;
        problems.push(
          `${path}:${i + 1} is not an \`export * from "./src/…";\` line: ${line.trim()}`,
        );
      });
    }
    assertNone(problems, "Expected entry points to only re-export src/ files");
  });

  await t.step("public src/ files are exported by an entry point, `_` files by none", () => {
    const exporters = new Map<string, string[]>();
    const problems: string[] = [];
    for (const path of entryPoints) {
      for (const { line, specifier, target, exportsAll } of files.get(path)!.imports) {
        if (!exportsAll) continue; // not an `export *`: the step above reports it
        const where = `${path}:${line}`;
        if (target === undefined || !files.has(target)) {
          problems.push(`${where} exports ${specifier}, which is not a file under src/`);
          continue;
        }
        exporters.set(target, [...exporters.get(target) ?? [], where]);
      }
    }
    for (const { path } of src) {
      const by = exporters.get(path) ?? [];
      if (isPrivate(path) && by.length > 0) {
        problems.push(
          `${path} is private (its name starts with _) but is exported by ${by.join(", ")}`,
        );
      } else if (!isPrivate(path) && by.length === 0) {
        problems.push(
          `${path} is public (its name does not start with _) but no entry point exports it: ` +
            "export it from one, or rename it with a leading _",
        );
      }
    }
    assertNone(problems, "Expected exactly the public src/ files to be exported");
  });

  await t.step("public type files import only each other", () => {
    const problems: string[] = [];
    for (const path of PUBLIC_TYPE_FILES) {
      const file = files.get(path);
      if (file === undefined) {
        problems.push(`${path} is listed as a public type file but does not exist`);
        continue;
      }
      for (const { line, specifier, target } of file.imports) {
        if (target !== undefined && PUBLIC_TYPE_FILES.includes(target)) continue;
        problems.push(`${path}:${line} imports ${target ?? specifier} ("${specifier}")`);
      }
    }
    assertNone(
      problems,
      `Expected public type files to import only ${PUBLIC_TYPE_FILES.join(", ")}`,
    );
  });

  await t.step("folders import only what their rule allows", () => {
    const problems: string[] = [];
    for (const rule of FOLDER_RULES) {
      for (const file of src.filter((file) => matches(file.path, rule.files))) {
        for (const { line, specifier, target } of file.imports) {
          const allowed = rule.only === undefined ||
            target !== undefined && rule.only.some((pattern) => matches(target, pattern));
          const barred = target !== undefined &&
            (rule.never ?? []).some((pattern) => matches(target, pattern)) &&
            !(rule.except ?? []).some((pattern) => matches(target, pattern));
          if (allowed && !barred) continue;
          const limit = rule.only
            ? `may import only ${rule.only.join(", ")}`
            : `may not import ${rule.never!.join(", ")}` +
              (rule.except ? ` (apart from ${rule.except.join(", ")})` : "");
          problems.push(
            `${file.path}:${line} imports ${target ?? specifier} ("${specifier}"): ` +
              `${rule.files} ${limit}, as ${rule.why}`,
          );
        }
        for (const match of rule.noDeno ? file.bare.matchAll(/\bDeno\b/g) : []) {
          problems.push(
            `${file.path}:${lineAt(file.bare, match.index)} refers to Deno: ` +
              `${rule.files} may use no Deno API, as ${rule.why}`,
          );
        }
      }
    }
    assertNone(problems, "Expected each folder to import only what its rule allows");
  });
});
