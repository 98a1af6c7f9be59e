// Datasets the benchmarks load: each module-level class can run in workers.

import { decodePng, resizeInto } from "../examples/image_dataset.ts";
import { type BatchInfo, PyDataset, type PyDatasetOptions } from "../mod.ts";

/**
 * Batch i is a fresh 4 MiB Float32Array filled with i: the loader's own
 * cost, nothing else (filled, so its pages are really in memory).
 */
export class FreshFloats extends PyDataset<Float32Array> {
  constructor(public n: number, public values = 1 << 20, options: PyDatasetOptions = {}) {
    super({ ...options, module: import.meta.url });
  }

  get length(): number {
    return this.n;
  }

  getItem(index: number): Float32Array {
    return new Float32Array(this.values).fill(index);
  }
}

/**
 * Batch i is FreshFloats's, in an array from `info.allocate`: a buffer the
 * reader released (`dataset.release(batch)`) when one is free. Recycled
 * arrays are not zeroed, and `fill` writes every float, so each batch still
 * costs its writes and nothing else.
 */
export class RecycledFloats extends PyDataset<Float32Array> {
  constructor(public n: number, public values = 1 << 20, options: PyDatasetOptions = {}) {
    super({ ...options, module: import.meta.url });
  }

  get length(): number {
    return this.n;
  }

  getItem(index: number, info: BatchInfo): Float32Array {
    return info.allocate(Float32Array, this.values).fill(index);
  }
}

/** Batch i is fetched from `url`, which answers after a delay: I/O-bound. */
export class Fetched extends PyDataset<Uint8Array> {
  constructor(public n: number, public url: string, options: PyDatasetOptions = {}) {
    super({ ...options, module: import.meta.url });
  }

  get length(): number {
    return this.n;
  }

  async getItem(index: number): Promise<Uint8Array> {
    const response = await fetch(`${this.url}?batch=${index}`);
    return new Uint8Array(await response.arrayBuffer());
  }
}

/**
 * Batch i decodes and resizes `batchSize` PNG files held in memory: purely
 * CPU-bound, with no file I/O to overlap.
 */
export class PngBatches extends PyDataset<Float32Array> {
  constructor(
    public pngs: Uint8Array[],
    public batchSize: number,
    public size: number,
    options: PyDatasetOptions = {},
  ) {
    super({ ...options, module: import.meta.url });
  }

  get length(): number {
    return Math.ceil(this.pngs.length / this.batchSize);
  }

  getItem(index: number): Float32Array {
    const pixels = this.size * this.size * 3;
    const low = index * this.batchSize;
    const high = Math.min(low + this.batchSize, this.pngs.length);
    const images = new Float32Array((high - low) * pixels);
    for (let i = low; i < high; i++) {
      const image = decodePng(this.pngs[i]!);
      resizeInto(image, this.size, images.subarray((i - low) * pixels, (i - low + 1) * pixels));
    }
    return images;
  }
}
