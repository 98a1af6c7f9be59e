/**
 * The Keras reference example, translated: a `PyDataset` over image files
 * whose `getItem` reads and decodes the PNG files of one batch, resizes them
 * and returns `[images, labels]`.
 *
 * Keras (`keras.utils.PyDataset` docs):
 *
 * ```python
 * class CIFAR10PyDataset(keras.utils.PyDataset):
 *     def __init__(self, x_set, y_set, batch_size, **kwargs):
 *         super().__init__(**kwargs)
 *         self.x, self.y = x_set, y_set
 *         self.batch_size = batch_size
 *     def __len__(self):
 *         return math.ceil(len(self.x) / self.batch_size)
 *     def __getitem__(self, idx):
 *         low = idx * self.batch_size
 *         high = min(low + self.batch_size, len(self.x))
 *         batch_x = self.x[low:high]
 *         batch_y = self.y[low:high]
 *         return np.array([
 *             resize(imread(file_name), (200, 200))
 *                for file_name in batch_x]), np.array(batch_y)
 * ```
 *
 * This module only defines the class: workers import it, so it has no
 * top-level side effects.
 *
 * @module
 */

import { decode } from "fast-png";
import { PyDataset, type PyDatasetOptions } from "../mod.ts";

/** A dense array: `data` in row-major order, and its `shape`. */
export interface Tensor<T> {
  data: T;
  shape: number[];
}

/** One batch: images `[n, size, size, 3]` in [0, 1], and labels `[n]`. */
export type ImageBatch = [Tensor<Float32Array>, Tensor<Int32Array>];

/** Image files and their labels, in batches of decoded, resized images. */
export class ImageFiles extends PyDataset<ImageBatch> {
  constructor(
    public x: string[],
    public y: number[],
    public batchSize: number,
    public size = 32,
    options: PyDatasetOptions = {},
  ) {
    super({ ...options, module: import.meta.url });
  }

  get length(): number {
    return Math.ceil(this.x.length / this.batchSize);
  }

  async getItem(index: number): Promise<ImageBatch> {
    const low = index * this.batchSize;
    // The last batch may be smaller.
    const high = Math.min(low + this.batchSize, this.x.length);
    const pixels = this.size * this.size * 3;
    const images = new Float32Array((high - low) * pixels);
    for (let i = low; i < high; i++) {
      const image = decodePng(await Deno.readFile(this.x[i]!));
      resizeInto(image, this.size, images.subarray((i - low) * pixels, (i - low + 1) * pixels));
    }
    return [
      { data: images, shape: [high - low, this.size, this.size, 3] },
      { data: Int32Array.from(this.y.slice(low, high)), shape: [high - low] },
    ];
  }
}

/** A decoded image: RGB bytes, `width × height × 3`. */
export interface Rgb {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Decodes a PNG file into 8-bit RGB. */
export function decodePng(bytes: Uint8Array): Rgb {
  const png = decode(bytes);
  const { width, height, channels } = png;
  const source = png.data;
  const scale = png.depth === 16 ? 1 / 257 : 1;
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) {
      // Grey images repeat their one channel; alpha is dropped.
      const channel = channels >= 3 ? c : 0;
      data[p * 3 + c] = source[p * channels + channel]! * scale;
    }
  }
  return { width, height, data };
}

/** Bilinear resize of `image` to `size × size`, as floats in [0, 1]. */
export function resizeInto(image: Rgb, size: number, out: Float32Array): void {
  const { width, height, data } = image;
  const sx = width / size;
  const sy = height / size;
  for (let y = 0; y < size; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, height - 1);
    const wy = fy - y0;
    for (let x = 0; x < size; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, width - 1);
      const wx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const top = data[(y0 * width + x0) * 3 + c]! * (1 - wx) +
          data[(y0 * width + x1) * 3 + c]! * wx;
        const bottom = data[(y1 * width + x0) * 3 + c]! * (1 - wx) +
          data[(y1 * width + x1) * 3 + c]! * wx;
        out[(y * size + x) * 3 + c] = (top * (1 - wy) + bottom * wy) / 255;
      }
    }
  }
}
