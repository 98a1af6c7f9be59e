// The demo repeats: its weights are seeded and its batches come in a seeded
// order, so two runs print the same held-out accuracy, the README's figure.

import assert from "node:assert/strict";
import { makeShapes } from "../examples/shapes.ts";

/** One run of the demo on `dir`: what it prints about the held-out images. */
async function demo(dir: string): Promise<string> {
  const script = new URL("../examples/keras_example.ts", import.meta.url).pathname;
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-worker-options",
      `--allow-read`,
      script,
      "--data",
      dir,
      "--epochs",
      "2",
      "--size",
      "8",
      "--backend",
      "cpu",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  assert.ok(success, new TextDecoder().decode(stderr));
  const line = text.split("\n").find((line) => line.startsWith("held-out accuracy"));
  assert.ok(line, `no held-out accuracy in:\n${text}`);
  return line;
}

Deno.test("Two runs of the demo print the same held-out accuracy", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await makeShapes(dir, 60);
    const first = await demo(dir);
    assert.match(first, /^held-out accuracy \d+\.\d% \(chance 25\.0%\), loss \d+\.\d+$/);
    assert.equal(await demo(dir), first);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
