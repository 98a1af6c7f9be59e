// The hand-written baseline: a worker that answers each request with a
// Float32Array, transferred, batch i filled with i or, with `fill: false`,
// bare: only its first and last float set to i (FreshFloats's batches,
// bench/_datasets.ts). A request may carry back a buffer the main thread is
// done with (the recycling loop): the worker writes into that one instead
// of allocating, unless its size is not the batch's.

const scope = self as unknown as {
  onmessage: (
    event: MessageEvent<{ index: number; values: number; fill?: boolean; buffer?: ArrayBuffer }>,
  ) => void;
  postMessage(message: unknown, transfer: Transferable[]): void;
};

scope.onmessage = (event) => {
  const { index, values, fill = true, buffer } = event.data;
  const batch = buffer?.byteLength === values * 4
    ? new Float32Array(buffer)
    : new Float32Array(values);
  if (fill) {
    batch.fill(index);
  } else {
    batch[0] = index;
    batch[values - 1] = index;
  }
  scope.postMessage(batch, [batch.buffer]);
};
