// The hand-written baseline: a worker that answers each request with a fresh,
// filled Float32Array, transferred.

const scope = self as unknown as {
  onmessage: (event: MessageEvent<{ index: number; values: number }>) => void;
  postMessage(message: unknown, transfer: Transferable[]): void;
};

scope.onmessage = (event) => {
  const batch = new Float32Array(event.data.values).fill(event.data.index);
  scope.postMessage(batch, [batch.buffer]);
};
