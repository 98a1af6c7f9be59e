// A `deno lint` plugin for the code's layout, loaded from deno.json's
// `"lint": { "plugins": ["./tools/lint_layout.ts"] }`, so plain `deno lint`
// (and `deno task check`) runs it. Its rules, reported as `layout/<rule>`:
//
// - `max-function-lines`: no function in src/ (declaration, expression, arrow,
//   method, getter, setter, constructor) spans more than 60 lines, counted
//   from its first line to its last, both included. A method counts from its
//   name, not from its parameter list.
// - `imports-first`: no `import` (or `export … from`) after any other
//   top-level statement, in every linted file.
//
// Silence one finding with `// deno-lint-ignore layout/<rule>` on the line
// above it, and say why.

/** The longest function, in lines, that `max-function-lines` accepts. */
export const MAX_FUNCTION_LINES = 60;

type Node = Deno.lint.Node;
type Statement = Deno.lint.Program["body"][number];

// The repository's src/ folder, as a path: this file lives in <root>/tools/.
// Matching against it (and not any "/src/" in a path) keeps the rule off
// files of a checkout that itself sits in a folder named src.
const SRC = slashes(decodeURIComponent(new URL("../src/", import.meta.url).pathname));

function slashes(path: string): string {
  return path.replaceAll("\\", "/").replace(/^\/([A-Za-z]:\/)/, "$1");
}

function inSrc(filename: string): boolean {
  return slashes(filename).startsWith(SRC);
}

/** The 1-based line of each offset of `text`, by binary search over line starts. */
function lineFinder(text: string): (offset: number) => number {
  const starts = [0];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return (offset) => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (starts[middle]! <= offset) low = middle;
      else high = middle - 1;
    }
    return low + 1;
  };
}

/** The node a function's length counts from: its method or accessor when it is one. */
function functionHead(node: Node): Node {
  const parent = (node as { parent?: Node }).parent;
  if (node.type !== "FunctionExpression" || parent === undefined) return node;
  if (parent.type === "MethodDefinition" || parent.type === "TSAbstractMethodDefinition") {
    return parent;
  }
  if (parent.type === "Property" && (parent.method || parent.kind !== "init")) return parent;
  return node;
}

function keyName(key: Node): string | undefined {
  if (key.type === "Identifier") return key.name;
  if (key.type === "PrivateIdentifier") return `#${key.name}`;
  if (key.type === "Literal" && typeof key.value === "string") return key.value;
  return undefined;
}

/** A name for a function in messages: `name`, `get name`, `constructor`, or `function`. */
function functionName(node: Node, head: Node): string {
  if (head.type === "MethodDefinition" || head.type === "TSAbstractMethodDefinition") {
    if (head.kind === "constructor") return "constructor";
    const name = keyName(head.key) ?? "[computed]";
    return head.kind === "get" || head.kind === "set" ? `${head.kind} ${name}` : name;
  }
  if (head.type === "Property") {
    const name = keyName(head.key) ?? "[computed]";
    return head.kind === "get" || head.kind === "set" ? `${head.kind} ${name}` : name;
  }
  if ((node.type === "FunctionDeclaration" || node.type === "FunctionExpression") && node.id) {
    return node.id.name;
  }
  const parent = (node as { parent?: Node }).parent;
  if (parent?.type === "VariableDeclarator" && parent.id.type === "Identifier") {
    return parent.id.name;
  }
  if (parent?.type === "PropertyDefinition") return keyName(parent.key) ?? "function";
  return "function";
}

const maxFunctionLines: Deno.lint.Rule = {
  create(context) {
    if (!inSrc(context.filename)) return {};
    const lineOf = lineFinder(context.sourceCode.text);
    function check(node: Node): void {
      const head = functionHead(node);
      const first = lineOf(head.range[0]);
      const last = lineOf(Math.max(head.range[0], node.range[1] - 1));
      const lines = last - first + 1;
      if (lines <= MAX_FUNCTION_LINES) return;
      context.report({
        node: head,
        message: `Function \`${functionName(node, head)}\` is too long: ${lines} lines ` +
          `(lines ${first}-${last}), the limit is ${MAX_FUNCTION_LINES}`,
        hint: "Split it into smaller functions, each doing one thing",
      });
    }
    return {
      FunctionDeclaration: check,
      FunctionExpression: check,
      ArrowFunctionExpression: check,
    };
  },
};

/** Whether a top-level statement imports: `import`, `export … from`, `import x = require()`. */
function isImport(statement: Statement): boolean {
  switch (statement.type) {
    case "ImportDeclaration":
    case "ExportAllDeclaration":
      return true;
    case "ExportNamedDeclaration":
      return statement.source !== null ||
        statement.declaration?.type === "TSImportEqualsDeclaration" &&
          statement.declaration.moduleReference.type === "TSExternalModuleReference";
    case "TSImportEqualsDeclaration":
      return statement.moduleReference.type === "TSExternalModuleReference";
    default:
      return false;
  }
}

const importsFirst: Deno.lint.Rule = {
  create(context) {
    return {
      Program(program) {
        const lineOf = lineFinder(context.sourceCode.text);
        let other: Statement | undefined;
        for (const statement of program.body) {
          if (!isImport(statement)) {
            other ??= statement;
            continue;
          }
          if (other === undefined) continue;
          context.report({
            node: statement,
            message: `Import after other code: the first statement that is not an import ` +
              `is on line ${lineOf(other.range[0])}`,
            hint: "Move every import (and `export … from`) above the file's other statements",
          });
        }
      },
    };
  },
};

/** The layout rules, run by `deno lint` as `layout/max-function-lines` and `layout/imports-first`. */
const plugin: Deno.lint.Plugin = {
  name: "layout",
  rules: {
    "max-function-lines": maxFunctionLines,
    "imports-first": importsFirst,
  },
};

export default plugin;
