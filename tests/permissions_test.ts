import assert from "node:assert/strict";
import { BatchError } from "../mod.ts";
import { type Touch, Touching } from "./fixtures/touch.ts";
import { collect, within } from "./_helpers.ts";

/** Runs one epoch and returns its error (undefined when it succeeded). */
async function failureOf(dataset: Touching): Promise<BatchError | undefined> {
  try {
    await within(collect(dataset.epoch()));
    return undefined;
  } catch (error) {
    assert.ok(error instanceof BatchError, String(error));
    return error;
  }
}

Deno.test("PyDataset workers have no permissions by default, and errors say what to add", async (t) => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/secret.txt`;
  await Deno.writeTextFile(file, "secret");
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("hello"),
  );
  const url = `http://127.0.0.1:${server.addr.port}/`;
  const cases: [Touch, string, string][] = [
    ["read", file, `{ read: [${JSON.stringify(file)}] }`],
    ["write", `${dir}/out.txt`, `{ write: [${JSON.stringify(`${dir}/out.txt`)}] }`],
    ["net", url, `{ net: ["127.0.0.1:${server.addr.port}"] }`],
    ["env", "HOME", `{ env: ["HOME"] }`],
    ["run", "true", `{ run: ["true"] }`],
    ["ffi", "libc.so.6", `{ ffi: ["libc.so.6"] }`],
    ["sys", "", `{ sys: ["hostname"] }`],
  ];
  try {
    for (const [touch, target, advice] of cases) {
      await t.step(touch, async () => {
        await using dataset = new Touching([[touch, target]]);
        const error = await failureOf(dataset);
        assert.ok(error, `${touch} was allowed`);
        assert.match(error.message, new RegExp(`worker lacks ${touch} access`));
        assert.ok(
          error.message.includes(`add ${advice} to the dataset's permissions option`),
          error.message,
        );
        assert.equal((error.cause as Error).name, "NotCapable");
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PyDataset workers get exactly the permissions the dataset declares", async () => {
  const dir = await Deno.makeTempDir();
  const inside = `${dir}/data`;
  await Deno.mkdir(inside);
  await Deno.writeTextFile(`${inside}/a.txt`, "inside");
  await Deno.writeTextFile(`${dir}/b.txt`, "outside");
  try {
    await using allowed = new Touching([["read", `${inside}/a.txt`]], {
      permissions: { read: [inside] },
    });
    assert.deepEqual(await within(collect(allowed.epoch())), ["inside"]);

    await using outside = new Touching([["read", `${dir}/b.txt`]], {
      permissions: { read: [inside] },
    });
    const error = await failureOf(outside);
    assert.match(error?.message ?? "", /lacks read access to ".*b\.txt"/);

    await using other = new Touching([["env", "HOME"]], { permissions: { read: [inside] } });
    assert.match((await failureOf(other))?.message ?? "", /lacks env access/);

    await using inherit = new Touching([["read", `${dir}/b.txt`]], { permissions: "inherit" });
    assert.deepEqual(await within(collect(inherit.epoch())), ["outside"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PyDataset explains a worker permission the main process lacks", async () => {
  // The test runs with --allow-net=127.0.0.1 only: a worker cannot get more.
  await using dataset = new Touching([["net", "http://example.com/"]], {
    permissions: { net: true },
  });
  await assert.rejects(
    within(collect(dataset.epoch())),
    /main process must hold every permission its workers get/,
  );
});

const repo = new URL("../", import.meta.url);

/** Runs a Deno script in `dir` with `args`; returns exit code and output. */
async function runDeno(dir: string, args: string[]): Promise<{ code: number; output: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const decoder = new TextDecoder();
  return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

Deno.test("PyDataset explains the missing --unstable-worker-options instead of letting Deno exit", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const numbers = new URL("tests/fixtures/numbers.ts", repo).href;
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import { Numbers } from ${JSON.stringify(numbers)};
for (const permissions of ["none", "inherit"] as const) {
  const dataset = new Numbers(3, {}, { useMultiprocessing: true, permissions });
  try {
    let count = 0;
    for await (const _ of dataset.epoch()) count++;
    console.log(permissions, "read", count);
  } catch (error) {
    console.log(permissions, "failed:", (error as Error).message);
  }
  await dataset.close();
}
`,
    );
    for (const permissions of [["--allow-read"], ["--allow-all"], []]) {
      const { code, output } = await runDeno(dir, [
        "run",
        "--no-config",
        ...permissions,
        "main.ts",
      ]);
      assert.equal(code, 0, output);
      assert.match(output, /none failed: Cannot start workers for Numbers with scoped permissions/);
      assert.match(output, /--unstable-worker-options/);
      assert.match(output, /"unstable": \["worker-options"\] in deno.json/);
      assert.match(output, /set permissions: "inherit" to opt out of scoping/);
      if (permissions.length > 0) {
        assert.match(output, /inherit read 3/);
      } else {
        // Without read access there is no telling which deno.json Deno uses.
        assert.match(
          output,
          /could not tell which deno\.json Deno uses, as reading .*\/deno\.json needs read access \(Deno uses the nearest one in .* or a folder above, or the root of its workspace\)/,
        );
        // Without read access the main process cannot load the workers' code.
        assert.match(
          output,
          /inherit failed: .*the main process needs read access to ".*worker\.ts"/,
        );
      }
    }
    // A deno.json in the working directory does not count for `deno run`:
    // Deno looks next to the main module, so the flag is off there.
    const elsewhere = await runDeno(new URL(".", repo).pathname, [
      "run",
      "--allow-read",
      `${dir}/main.ts`,
    ]);
    assert.equal(elsewhere.code, 0, elsewhere.output);
    assert.match(
      elsewhere.output,
      /none failed: Cannot start workers for Numbers with scoped permissions/,
    );
    // --no-config inside this repository: its deno.json lists the feature,
    // but Deno did not load it, which its unresolvable imports reveal.
    const inside = await Deno.makeTempFile({
      dir: new URL("tests/", repo).pathname,
      suffix: ".ts",
    });
    try {
      await Deno.copyFile(`${dir}/main.ts`, inside);
      const ignored = await runDeno(new URL(".", repo).pathname, [
        "run",
        "--no-config",
        "--allow-read",
        inside,
      ]);
      assert.equal(ignored.code, 0, ignored.output);
      assert.match(
        ignored.output,
        /none failed: .*deno\.json lists "worker-options", but Deno did not load it/,
      );
    } finally {
      await Deno.remove(inside);
    }
    // With the flag (seen under --allow-all) or the deno.json entry, scoped workers start.
    const flagged = await runDeno(dir, [
      "run",
      "--no-config",
      "--allow-all",
      "--unstable-worker-options",
      "main.ts",
    ]);
    assert.match(flagged.output, /none read 3/, flagged.output);
    await Deno.writeTextFile(`${dir}/deno.json`, `{ "unstable": ["worker-options"] }`);
    const configured = await runDeno(dir, ["run", "--allow-read", "main.ts"]);
    assert.match(configured.output, /none read 3/, configured.output);
    // `deno run` uses the deno.json next to the main module, wherever it runs from.
    const fromRoot = await runDeno("/", ["run", "--allow-read", `${dir}/main.ts`]);
    assert.match(fromRoot.output, /none read 3/, fromRoot.output);
    // `deno test` uses the working directory's: none at "/", so no scoped workers.
    await Deno.writeTextFile(
      `${dir}/main_test.ts`,
      `import "./main.ts";\nDeno.test("noop", () => {});\n`,
    );
    const tested = await runDeno("/", ["test", "--allow-read", `${dir}/main_test.ts`]);
    assert.equal(tested.code, 0, tested.output);
    assert.match(
      tested.output,
      /none failed: .*there is no deno\.json in \/ or above/,
      tested.output,
    );
    const testedHere = await runDeno(dir, ["test", "--allow-read", "main_test.ts"]);
    assert.match(testedHere.output, /none read 3/, testedHere.output);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PyDataset workers run when the module is imported over HTTP, as from JSR", async () => {
  const files = new Map<string, string>();
  const served: string[] = [];
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      served.push(path);
      try {
        const body = files.get(path) ?? await Deno.readTextFile(new URL(`.${path}`, repo));
        return new Response(body, { headers: { "content-type": "application/typescript" } });
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  const origin = `http://127.0.0.1:${server.addr.port}`;
  files.set(
    "/remote/squares.ts",
    `import { PyDataset, type PyDatasetOptions } from "../mod.ts";
export class RemoteSquares extends PyDataset<Float32Array> {
  constructor(public n: number, options: PyDatasetOptions = {}) {
    super({ ...options, module: import.meta.url });
  }
  get length(): number { return this.n; }
  getItem(index: number): Float32Array {
    return Float32Array.of(index * index, "WorkerGlobalScope" in globalThis ? 1 : 0);
  }
}
`,
  );
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/deno.json`, `{ "unstable": ["worker-options"] }`);
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import { RemoteSquares } from "${origin}/remote/squares.ts";
await using dataset = new RemoteSquares(4, { workers: 2, useMultiprocessing: true });
const rows = [];
for await (const batch of dataset.epoch()) rows.push([...batch]);
console.log(JSON.stringify(rows));
`,
    );
    const host = `127.0.0.1:${server.addr.port}`;
    const { code, output } = await runDeno(dir, [
      "run",
      "--no-lock",
      `--allow-import=${host}`,
      "--allow-read",
      "main.ts",
    ]);
    assert.equal(code, 0, output);
    assert.match(output, /\[\[0,1\],\[1,1\],\[4,1\],\[9,1\]\]/, "squares, computed in workers");
    assert.ok(
      served.includes("/src/fetch/worker/_worker.ts"),
      "the worker runtime came over HTTP too",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
