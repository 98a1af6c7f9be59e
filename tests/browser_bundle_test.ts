// ./wire and ./tfjs are the web-standard half: they bundle for the browser
// without any Deno API. (tests/browser_e2e.ts runs them in Chromium.)

import assert from "node:assert/strict";

async function bundle(entry: string, output: string): Promise<string> {
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--platform",
      "browser",
      "--packages",
      "external",
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
    for (const entry of ["../wire.ts", "../tfjs.ts"]) {
      // npm packages stay imports: what is checked is our code, all of it.
      const code = await bundle(entry, `${dir}/bundle.js`);
      assert.doesNotMatch(code, /\bDeno\b/, `${entry} refers to Deno`);
      assert.doesNotMatch(code, /["']node:/, `${entry} imports a node: module`);
      const imports = [...code.matchAll(/\bfrom\s*["']([^"']+)["']/g)].map((m) => m[1]);
      assert.ok(
        imports.every((specifier) => specifier === "@tensorflow/tfjs"),
        `${entry} imports only TensorFlow.js: ${imports}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
