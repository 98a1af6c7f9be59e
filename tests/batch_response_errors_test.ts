import assert from "node:assert/strict";
import { type Batch, batchesFromResponse, batchResponse } from "../wire.ts";
import { readUntilError, waitFor, within } from "./_helpers.ts";

Deno.test("batchResponse ends the body with an error document for a batch it cannot encode", async () => {
  let cancelled: unknown;
  const source = ReadableStream.from<Batch>([[Int32Array.of(1)], { f: (() => 1) as never }, [
    Int32Array.of(3),
  ]]);
  const reader = source.getReader();
  const watched = new ReadableStream<Batch>({
    pull: async (controller) => {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => {
      cancelled = reason;
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => batchResponse(watched),
  );
  try {
    const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    const { read, error } = await within(readUntilError(batchesFromResponse(response)));
    assert.deepEqual(read, [[Int32Array.of(1)]]);
    assert.match(
      String(error),
      /^TypeError: The writer failed at batch 1: Cannot encode f as it is a function/,
    );
    await waitFor(() => cancelled !== undefined, 10_000, "the source being cancelled");
  } finally {
    await server.shutdown();
  }
});
