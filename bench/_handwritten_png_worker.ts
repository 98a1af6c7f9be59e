// The hand-written baseline of the CPU-bound benchmark: a worker that gets the
// PNG files once, then answers each request for batch i by decoding and
// resizing its files into a fresh Float32Array, transferred: PngBatches's
// getItem (bench/_datasets.ts), without pydataset.

import { decodePng, resizeInto } from "../examples/image_dataset.ts";

type Request =
  | { type: "files"; pngs: Uint8Array[]; batchSize: number; size: number }
  | { type: "get"; index: number };

const scope = self as unknown as {
  onmessage: (event: MessageEvent<Request>) => void;
  postMessage(message: unknown, transfer?: Transferable[]): void;
};

let files: { pngs: Uint8Array[]; batchSize: number; size: number } | undefined;

scope.onmessage = (event) => {
  const request = event.data;
  if (request.type === "files") {
    files = request;
    scope.postMessage("ready");
    return;
  }
  const { pngs, batchSize, size } = files!;
  const pixels = size * size * 3;
  const low = request.index * batchSize;
  const high = Math.min(low + batchSize, pngs.length);
  const images = new Float32Array((high - low) * pixels);
  for (let i = low; i < high; i++) {
    const image = decodePng(pngs[i]!);
    resizeInto(image, size, images.subarray((i - low) * pixels, (i - low + 1) * pixels));
  }
  scope.postMessage(images, [images.buffer]);
};
