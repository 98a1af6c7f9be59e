// The hand-written baseline: a worker that answers each request with a filled
// Float32Array, transferred. A request may carry back a buffer the main thread
// is done with (the recycling loop): the worker fills that one instead of
// allocating, unless its size is not the batch's.

const scope = self as unknown as {
  onmessage: (
    event: MessageEvent<{ index: number; values: number; buffer?: ArrayBuffer }>,
  ) => void;
  postMessage(message: unknown, transfer: Transferable[]): void;
};

scope.onmessage = (event) => {
  const { index, values, buffer } = event.data;
  const batch = buffer?.byteLength === values * 4
    ? new Float32Array(buffer)
    : new Float32Array(values);
  batch.fill(index);
  scope.postMessage(batch, [batch.buffer]);
};
