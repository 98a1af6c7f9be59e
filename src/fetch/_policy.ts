// The per-batch policy, wrapped around any Fetcher.

/**
 * Returns `batch`, or throws when `getItem` returned nothing: `undefined`
 * or `null` would otherwise look like a missing batch (Keras hangs on it).
 */
export function checkBatch<B>(batch: B): B {
  if (batch === undefined || batch === null) {
    throw new TypeError(`Expected getItem to return a batch: current value is ${batch}`);
  }
  return batch;
}
