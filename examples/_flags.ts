// What the examples' command lines share: flags, errors, Ctrl-C.

/** A positive integer flag, or `fallback` when it is absent. */
export function integer(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 1) {
    throw new RangeError(`--${name} must be a positive integer: current value is ${value}`);
  }
  return number;
}

/** Runs an example's `main`, turning an error into a message and the usage. */
export async function run(main: (args: string[]) => Promise<void>, help: string): Promise<void> {
  try {
    await main(Deno.args);
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}\n\n${help}`);
    Deno.exit(2);
  }
}

/**
 * Stops a server on Ctrl-C with `stop`, but exits within `ms` anyway:
 * `shutdown()` waits for open responses, and a client that stopped reading
 * (a paused page) holds one open for ever. A second Ctrl-C exits at once.
 */
export function stopOnInterrupt(stop: () => Promise<void>, ms = 2_000): void {
  let stopping = false;
  Deno.addSignalListener("SIGINT", () => {
    if (stopping) Deno.exit(130);
    stopping = true;
    const late = new Promise((resolve) => setTimeout(resolve, ms));
    Promise.race([stop(), late]).catch(console.error).finally(() => Deno.exit(130));
  });
}
