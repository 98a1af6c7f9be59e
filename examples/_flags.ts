// Command-line flags of the examples.

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
