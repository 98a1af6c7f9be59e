import assert from "node:assert/strict";
import { ImageFiles } from "../examples/image_dataset.ts";
import { listImages, makeShapes } from "../examples/shapes.ts";
import { collect, within } from "./_helpers.ts";

Deno.test("The Keras example reads image files into batches in read-scoped workers", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await makeShapes(dir, 7, 40);
    const { x, y, classes } = await listImages(dir);
    assert.deepEqual(classes, ["circle", "cross", "square", "triangle"]);
    assert.equal(x.length, 28);
    await using dataset = new ImageFiles(x, y, 8, 16, {
      workers: 2,
      useMultiprocessing: true,
      permissions: { read: [dir] },
    });
    const batches = await within(collect(dataset.epoch({ shuffle: true, seed: 3 })));
    const shapes = batches.map(([images]) => images.shape);
    assert.deepEqual(shapes.map(([n]) => n).sort(), [4, 8, 8, 8], "a short last batch");
    assert.ok(shapes.every(([, h, w, c]) => h === 16 && w === 16 && c === 3));
    const labels = batches.flatMap(([, l]) => [...l.data]).sort();
    assert.deepEqual(labels, [...y].sort());
    for (const [images] of batches) {
      assert.equal(images.data.length, images.shape.reduce((a, b) => a * b));
      assert.ok(images.data.every((v) => v >= 0 && v <= 1));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
