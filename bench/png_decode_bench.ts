// Which PNG decoder the examples use: two pure-JS decoders from npm, on the
// 32×32 RGB shape images the demo makes. `deno bench bench/png_decode_bench.ts`.

import { decode as fastPngDecode } from "fast-png";
import UPNG from "upng-js";
import { makeShapes } from "../examples/shapes.ts";

const dir = await Deno.makeTempDir();
await makeShapes(dir, 20, 32);
const files = await Promise.all(
  Array.from({ length: 20 }, (_, i) => Deno.readFile(`${dir}/circle/${i}.png`)),
);
await Deno.remove(dir, { recursive: true });

Deno.bench("fast-png decode, 20 images", { group: "png", baseline: true }, () => {
  for (const file of files) fastPngDecode(file);
});

Deno.bench("upng-js decode + toRGBA8, 20 images", { group: "png" }, () => {
  for (const file of files) {
    const image = UPNG.decode(
      file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength),
    );
    UPNG.toRGBA8(image);
  }
});
