// Small bounded helpers for the tests: no wait here can hang a test.

/** Reads a whole stream into an array. */
export async function collect<T>(stream: ReadableStream<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of stream) items.push(item);
  return items;
}

/** Reads an epoch; returns what was read and the error that ended it. */
export async function readUntilError<T>(
  stream: ReadableStream<T>,
): Promise<{ read: T[]; error: unknown }> {
  const read: T[] = [];
  try {
    for await (const batch of stream) read.push(batch);
  } catch (error) {
    return { read, error };
  }
  return { read, error: undefined };
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Settles like `promise`, or rejects when it takes longer than `ms`: a
 * regression shows up as a failure, never as a hung test.
 */
export async function within<T>(
  promise: Promise<T>,
  ms = 10_000,
  what = "the operation",
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` every few milliseconds until it holds, for at most `ms`. */
export async function waitFor(
  condition: () => boolean,
  ms = 10_000,
  what = "the condition",
): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`${what} did not hold within ${ms} ms`);
    await delay(2);
  }
}

/** The three execution modes, for table tests. */
export const MODES = [
  { name: "main thread, one at a time", options: { workers: 1 } },
  { name: "main thread, concurrent", options: { workers: 3 } },
  { name: "workers", options: { workers: 2, useMultiprocessing: true } },
] as const;

/**
 * Waits until `read()` stops changing for `quietMs`, for at most `ms`: a
 * terminated worker's thread may finish its current task, so its effects
 * are checked once they have settled.
 */
export async function waitUntilStill(
  read: () => number,
  quietMs = 50,
  ms = 5_000,
): Promise<number> {
  const deadline = performance.now() + ms;
  let value = read();
  let since = performance.now();
  while (performance.now() - since < quietMs) {
    if (performance.now() > deadline) throw new Error(`The value kept changing for ${ms} ms`);
    await delay(5);
    const now = read();
    if (now !== value) {
      value = now;
      since = performance.now();
    }
  }
  return value;
}

/** Runs `fn` with `console.error` captured; returns what it printed. */
export async function capturingErrors<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; printed: unknown[][] }> {
  const printed: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => printed.push(args);
  try {
    return { result: await fn(), printed };
  } finally {
    console.error = original;
  }
}
