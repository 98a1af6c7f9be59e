// ./wire and ./tfjs are the web-standard half: they bundle for the browser
// without any Deno API. (tests/browser_e2e.ts runs them in Chromium.)

import assert from "node:assert/strict";

async function bundle(entry: string, output: string): Promise<string> {
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--platform",
      "browser",
      // TensorFlow.js stays an import: what is checked is our code, all of it.
      "--external",
      "@tensorflow/tfjs",
      "--output",
      output,
      decodeURIComponent(new URL(entry, import.meta.url).pathname),
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(success, `deno bundle ${entry}: ${new TextDecoder().decode(stderr)}`);
  return await Deno.readTextFile(output);
}

Deno.test("./wire and ./tfjs bundle for the browser and use no Deno API", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cases = [["../wire.ts", []], ["../tfjs.ts", ["@tensorflow/tfjs"]]] as const;
    for (const [entry, expected] of cases) {
      const code = await bundle(entry, `${dir}/bundle.js`);
      assert.doesNotMatch(code, /\bDeno\b/, `${entry} refers to Deno`);
      // Every kind of import left in the bundle: static, bare and dynamic.
      const imports = [
        ...code.matchAll(/\b(?:from|import)\s*\(?\s*["'`]([^"'`]+)["'`]/g),
      ].map((match) => match[1]);
      assert.deepEqual([...new Set(imports)], expected, `what ${entry} imports`);
      assert.doesNotMatch(code, /\brequire\s*\(/, `${entry} calls require()`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
