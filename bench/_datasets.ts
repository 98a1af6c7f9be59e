// Datasets the benchmarks load: each module-level class can run in workers.

import { decodePng, resizeInto } from "../examples/image_dataset.ts";
import { type BatchInfo, PyDataset, type PyDatasetOptions } from "../mod.ts";

/**
 * `batch` made batch i: with `fill`, every float set to i (so that a reader
 * summing every float has an exact checksum); without, bare: only its first
 * and last float set to i and nothing else written, so that the loader's
 * own cost is all that is measured.
 */
function mark(batch: Float32Array, index: number, fill: boolean): Float32Array {
  if (fill) return batch.fill(index);
  batch[0] = index;
  batch[batch.length - 1] = index;
  return batch;
}

/**
 * Batch i is a fresh Float32Array of `values` floats (4 MiB by default),
 * filled with i (so its pages are really in memory), or, with `fill` false,
 * bare: only its first and last float set to i, the rest left zero.
 */
export class FreshFloats extends PyDataset<Float32Array> {
  constructor(
    public n: number,
    public values = 1 << 20,
    options: PyDatasetOptions = {},
    public fill = true,
  ) {
    super({ ...options, module: import.meta.url });
  }

  get length(): number {
    return this.n;
  }

  getItem(index: number): Float32Array {
    return mark(new Float32Array(this.values), index, this.fill);
  }
}

/**
 * Batch i is FreshFloats's, in an array from `info.allocate`: a buffer the
 * reader released (`dataset.release(batch)`) when one is free. Recycled
 * arrays are not zeroed: filled, each batch still costs its writes and
 * nothing else; bare, a recycled batch holds an earlier batch's floats
 * between its first and last.
 */
export class RecycledFloats extends PyDataset<Float32Array> {
  constructor(
    public n: number,
    public values = 1 << 20,
    options: PyDatasetOptions = {},
    public fill = true,
  ) {
    super({ ...options, module: import.meta.url });
  }

  get length(): number {
    return this.n;
  }

  getItem(index: number, info: BatchInfo): Float32Array {
    return mark(info.allocate(Float32Array, this.values), index, this.fill);
  }
}

/**
 * Every batch is the same `batch`, made once: what a server sends costs
 * nothing to make, so that serving it measures the transport alone.
 */
export class Repeated extends PyDataset<Float32Array> {
  constructor(public n: number, public batch: Float32Array, options: PyDatasetOptions = {}) {
    super({ ...options, module: import.meta.url });
  }

  get length(): number {
    return this.n;
  }

  getItem(): Float32Array {
    return this.batch;
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
 * Files packed one after another into one SharedArrayBuffer: file i is
 * `bytes.subarray(offsets[i], offsets[i + 1])`. Structured cloning shares a
 * SharedArrayBuffer instead of copying it, so a dataset holding its files
 * this way costs next to nothing to send to its workers at each epoch.
 */
export interface PackedFiles {
  bytes: Uint8Array;
  /** `files + 1` offsets into `bytes`, also in a SharedArrayBuffer. */
  offsets: Float64Array;
}

/** `files` packed into one SharedArrayBuffer (see {@linkcode PackedFiles}). */
export function packFiles(files: readonly Uint8Array[]): PackedFiles {
  const offsets = new Float64Array(new SharedArrayBuffer((files.length + 1) * 8));
  for (const [i, file] of files.entries()) offsets[i + 1] = offsets[i]! + file.byteLength;
  const bytes = new Uint8Array(new SharedArrayBuffer(offsets[files.length]!));
  for (const [i, file] of files.entries()) bytes.set(file, offsets[i]);
  return { bytes, offsets };
}

/**
 * Batch i decodes and resizes `batchSize` PNG files held in memory: purely
 * CPU-bound, with no file I/O to overlap. The files are packed into one
 * SharedArrayBuffer (`packFiles`), as large read-only fields should be: a
 * dataset's fields are structured-cloned to each worker at every epoch,
 * and a SharedArrayBuffer is shared, where 2,400 `Uint8Array`s (6.4 MB)
 * would be copied.
 */
export class PngBatches extends PyDataset<Float32Array> {
  constructor(
    public files: PackedFiles,
    public batchSize: number,
    public size: number,
    options: PyDatasetOptions = {},
  ) {
    super({ ...options, module: import.meta.url });
  }

  get length(): number {
    return Math.ceil((this.files.offsets.length - 1) / this.batchSize);
  }

  getItem(index: number): Float32Array {
    const { bytes, offsets } = this.files;
    const pixels = this.size * this.size * 3;
    const low = index * this.batchSize;
    const high = Math.min(low + this.batchSize, offsets.length - 1);
    const images = new Float32Array((high - low) * pixels);
    for (let i = low; i < high; i++) {
      // A view of the shared bytes: decodePng copies out the file's own.
      const image = decodePng(bytes.subarray(offsets[i], offsets[i + 1]));
      resizeInto(image, this.size, images.subarray((i - low) * pixels, (i - low + 1) * pixels));
    }
    return images;
  }
}
