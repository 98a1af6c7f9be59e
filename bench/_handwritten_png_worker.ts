// The hand-written baseline of the CPU-bound benchmark: a worker that gets the
// PNG files once, packed into one SharedArrayBuffer as PngBatches holds them
// (`packFiles`, bench/_datasets.ts), then answers each request for batch i by
// decoding and resizing its files into a fresh Float32Array, transferred:
// PngBatches's getItem, without pydataset.

import { decodePng, resizeInto } from "../examples/image_dataset.ts";
import type { PackedFiles } from "./_datasets.ts";

interface Files {
  files: PackedFiles;
  batchSize: number;
  size: number;
}

type Request = { type: "files" } & Files | { type: "get"; index: number };

const scope = self as unknown as {
  onmessage: (event: MessageEvent<Request>) => void;
  postMessage(message: unknown, transfer?: Transferable[]): void;
};

let files: Files | undefined;

scope.onmessage = (event) => {
  const request = event.data;
  if (request.type === "files") {
    files = request;
    scope.postMessage("ready");
    return;
  }
  const { files: { bytes, offsets }, batchSize, size } = files!;
  const pixels = size * size * 3;
  const low = request.index * batchSize;
  const high = Math.min(low + batchSize, offsets.length - 1);
  const images = new Float32Array((high - low) * pixels);
  for (let i = low; i < high; i++) {
    const image = decodePng(bytes.subarray(offsets[i], offsets[i + 1]));
    resizeInto(image, size, images.subarray((i - low) * pixels, (i - low + 1) * pixels));
  }
  scope.postMessage(images, [images.buffer]);
};
