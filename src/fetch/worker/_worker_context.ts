// Marks the thread as a dataset worker, so that a dataset module whose
// top-level code opens epochs fails clearly there instead of spawning
// workers from workers.

const MARK = Symbol.for("pydataset.worker");

/** Marks this thread as a dataset worker. */
export function markWorkerContext(): void {
  (globalThis as Record<symbol, unknown>)[MARK] = true;
}

/** Whether this thread is a dataset worker. */
export function inWorkerContext(): boolean {
  return (globalThis as Record<symbol, unknown>)[MARK] === true;
}
