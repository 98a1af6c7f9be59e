// The text of a thrown value in the checks' messages: an error's name and
// message (`RangeError: record 1 is corrupt`), or describeError's words.

import { describeError } from "../_describe.ts";

/** `name: message` of a thrown error; `describeError(error)` for anything else. */
export function nameAndMessage(error: unknown): string {
  let name: unknown;
  try {
    name = error instanceof Error ? error.name : undefined;
  } catch {
    // A Proxy or a getter that throws: describeError says what could be said.
  }
  return typeof name === "string" ? `${name}: ${describeError(error)}` : describeError(error);
}
