// An epoch's stream passed through to the response, telling the host of
// each batch it sends and, once, of the epoch's end: read to the end,
// failed, or cancelled by a client that went away (the server cancels the
// body). It pulls only when the response does, so backpressure holds.

/** What the host is told about an epoch it streams. */
export interface EpochWatcher {
  /** A batch was passed on. */
  batch(): void;
  /**
   * The epoch has ended (its dataset can open another): `error` is why
   * it failed, undefined when it was read to the end or cancelled.
   */
  end(error: unknown): void;
}

/** `stream`, reporting to `watcher` as it goes. */
export function watchEpoch<T>(stream: ReadableStream<T>, watcher: EpochWatcher): ReadableStream<T> {
  const reader = stream.getReader();
  let ended = false;
  let cancelled = false;
  const end = (error: unknown) => {
    if (!ended) watcher.end(error);
    ended = true;
  };
  return new ReadableStream<T>({
    async pull(controller) {
      let result: ReadableStreamReadResult<T>;
      try {
        result = await reader.read();
      } catch (error) {
        if (!cancelled) end(error);
        throw error;
      }
      // A cancel ends a pending read at once, long before the epoch has ended: cancel() tells.
      if (cancelled) return;
      if (result.done) {
        end(undefined);
        controller.close();
      } else {
        watcher.batch();
        controller.enqueue(result.value);
      }
    },
    async cancel(reason) {
      cancelled = true;
      try {
        // Resolves once the epoch has ended: running getItem calls settled, onEpochEnd ran.
        await reader.cancel(reason);
      } finally {
        end(undefined);
      }
    },
  }, { highWaterMark: 0 });
}
