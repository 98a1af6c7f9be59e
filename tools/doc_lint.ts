// `deno doc --lint` over every entry point, failing on any diagnostic but
// one: `private-type-ref` to TensorFlow.js's own types (Tensor, Dataset),
// which ./tfjs must use in its signatures. Deno reports types from another
// package as private (denoland/deno#27364); they are tfjs's public API.

const ALLOWED =
  /^error\[private-type-ref\]: public type '[^']+' references private type '(Tensor|Dataset)'$/;

const { code, stderr, stdout } = await new Deno.Command(Deno.execPath(), {
  args: ["doc", "--lint", "mod.ts", "tfjs.ts", "wire.ts", "testing.ts", "remote.ts"],
  env: { NO_COLOR: "1" },
}).output();
const output = new TextDecoder().decode(stderr) + new TextDecoder().decode(stdout);
const errors = output.split("\n").filter((line) => line.startsWith("error["));
const unexpected = errors.filter((line) => !ALLOWED.test(line));
if (unexpected.length > 0 || (code !== 0 && errors.length === 0)) {
  console.error(output);
  console.error(`deno doc --lint: ${unexpected.length} unexpected problem(s)`);
  Deno.exit(1);
}
console.log(
  `deno doc --lint mod.ts tfjs.ts wire.ts testing.ts remote.ts: clean (${errors.length} references to tfjs's own Tensor and Dataset types allowed)`,
);
