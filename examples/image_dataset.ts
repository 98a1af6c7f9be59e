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

import jpeg from "jpeg-js";
import UPNG from "upng-js";
import {
  type NDArray,
  ndarray,
  PyDataset,
  type PyDatasetHooks,
  type PyDatasetOptions,
} from "../mod.ts";

/** One batch: images `[n, size, size, 3]` in [0, 1], and labels `[n]`. */
export type ImageBatch = [NDArray<Float32Array>, NDArray<Int32Array>];

/**
 * Image files and their labels, in batches of decoded, resized images.
 *
 * Beyond the Keras example, it shuffles which images go into which batch,
 * with the Keras idiom: `onEpochEnd` reorders `this.indices`, and the
 * workers get the new order next epoch (shuffling in `epoch()` only reorders
 * whole batches). Its state is all in public fields: a worker's copy of
 * the dataset is made without running its constructor, so it would have no
 * `#private` fields.
 */
export class ImageFiles extends PyDataset<ImageBatch> implements PyDatasetHooks {
  /** The order of the samples: batch i holds `indices[i * batchSize ..]`. */
  indices: Uint32Array;
  /**
   * Whether `onEpochEnd` mixes the samples anew. A server turns it off, so
   * that batch i holds the same images in every dataset it serves from.
   */
  reshuffle = true;
  /** `getItem` calls so far, in all its workers (shared memory): a server reports it. */
  calls: Int32Array = new Int32Array(new SharedArrayBuffer(4));
  /** The seed of the next {@linkcode ImageFiles.shuffleSamples}: each call mixes anew. */
  shuffleSeed = 1;

  constructor(
    public x: string[],
    public y: number[],
    public batchSize: number,
    public size = 32,
    options: PyDatasetOptions = {},
  ) {
    super({ ...options, module: import.meta.url });
    this.indices = Uint32Array.from(x.keys());
  }

  get length(): number {
    return Math.ceil(this.x.length / this.batchSize);
  }

  async getItem(index: number): Promise<ImageBatch> {
    Atomics.add(this.calls, 0, 1);
    const low = index * this.batchSize;
    // The last batch may be smaller.
    const high = Math.min(low + this.batchSize, this.x.length);
    const pixels = this.size * this.size * 3;
    const images = new Float32Array((high - low) * pixels);
    const labels = new Int32Array(high - low);
    for (let i = low; i < high; i++) {
      const sample = this.indices[i]!;
      const image = decodeImage(this.x[sample]!, await Deno.readFile(this.x[sample]!));
      resizeInto(image, this.size, images.subarray((i - low) * pixels, (i - low + 1) * pixels));
      labels[i - low] = this.y[sample]!;
    }
    return [
      ndarray(images, [high - low, this.size, this.size, 3]),
      ndarray(labels, [high - low]),
    ];
  }

  /** Mixes the samples across batches (seeded), e.g. before the first epoch. */
  shuffleSamples(): void {
    let state = this.shuffleSeed++;
    const random = () => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state / 0x1_0000_0000;
    };
    for (let i = this.indices.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [this.indices[i], this.indices[j]] = [this.indices[j]!, this.indices[i]!];
    }
  }

  onEpochEnd(): void {
    if (this.reshuffle) this.shuffleSamples();
  }
}

/** A decoded image: RGB bytes, `width × height × 3`. */
export interface Rgb {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Decodes a PNG or JPEG file, told apart by its name, into 8-bit RGB. */
export function decodeImage(name: string, bytes: Uint8Array): Rgb {
  return /\.jpe?g$/i.test(name) ? decodeJpeg(bytes) : decodePng(bytes);
}

/** Decodes a JPEG file into 8-bit RGB with `jpeg-js`. */
export function decodeJpeg(bytes: Uint8Array): Rgb {
  const { width, height, data } = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
  return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/**
 * Decodes a PNG file into 8-bit RGB with `upng-js` (1.3–1.4× faster than
 * `fast-png` on the demo's images: `deno bench --allow-read --allow-write
 * bench/png_decode_bench.ts`).
 */
export function decodePng(bytes: Uint8Array): Rgb {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const png = UPNG.decode(buffer as ArrayBuffer);
  const rgba = new Uint8Array(UPNG.toRGBA8(png)[0]!);
  const { width, height } = png;
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    data[p * 3] = rgba[p * 4]!;
    data[p * 3 + 1] = rgba[p * 4 + 1]!;
    data[p * 3 + 2] = rgba[p * 4 + 2]!;
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
