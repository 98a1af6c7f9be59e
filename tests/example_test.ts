import assert from "node:assert/strict";
import jpeg from "jpeg-js";
import { decodeImage, decodePng, ImageFiles } from "../examples/image_dataset.ts";
import { listImages, makeShapes } from "../examples/shapes.ts";
import { collect, within } from "./_helpers.ts";
import { assertValidDataset, inspectDataset } from "../testing.ts";

Deno.test("The Keras example reads image files into batches in read-scoped workers", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await makeShapes(dir, 7, 40);
    // A JPEG counts too; other files, hidden and empty folders do not.
    const square = decodePng(await Deno.readFile(`${dir}/square/0.png`));
    const rgba = new Uint8Array(40 * 40 * 4).map((_, i) =>
      i % 4 === 3 ? 255 : square.data[(i >> 2) * 3 + (i % 4)]!
    );
    await Deno.writeFile(
      `${dir}/square/extra.jpg`,
      jpeg.encode({ width: 40, height: 40, data: rgba }, 90).data,
    );
    await Deno.writeTextFile(`${dir}/square/notes.txt`, "not an image");
    await Deno.mkdir(`${dir}/.hidden`);
    await Deno.mkdir(`${dir}/empty`);
    const { x, y, classes, skipped } = await listImages(dir);
    assert.deepEqual(classes, ["circle", "cross", "square", "triangle"]);
    assert.equal(x.length, 29);
    assert.equal(skipped, 1);
    const decoded = decodeImage("extra.jpg", await Deno.readFile(`${dir}/square/extra.jpg`));
    assert.deepEqual([decoded.width, decoded.height, decoded.data.length], [40, 40, 40 * 40 * 3]);
    await using dataset = new ImageFiles(x, y, 8, 16, {
      workers: 2,
      useMultiprocessing: true,
      permissions: { read: [dir] },
    });
    const batches = await within(collect(dataset.epoch({ shuffle: true, seed: 3 })));
    const shapes = batches.map(([images]) => images.shape);
    assert.deepEqual(shapes.map(([n]) => n).sort(), [5, 8, 8, 8], "a short last batch");
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

Deno.test("The Keras example's dataset passes assertValidDataset, in workers", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await makeShapes(dir, 10, 24);
    const { x, y } = await listImages(dir);
    await using images = new ImageFiles(x, y, 8, 16, {
      workers: 2,
      useMultiprocessing: true,
      permissions: { read: [dir] },
    });
    const report = await within(inspectDataset(images));
    assert.deepEqual(report.problems, []);
    assert.equal(report.structure, "[NDArray, NDArray]");
    assert.deepEqual(report.parts.map((part) => part.sampleShape), [[16, 16, 3], []]);
    assert.deepEqual(report.checked, [0, 1, 2, 3, 4]);
    await within(assertValidDataset(images));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
