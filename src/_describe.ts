// Describing values for error messages: what was thrown, and values
// given where another was expected. It never throws.
//
// The src/_*.ts helpers are the base every layer shares: they import only
// the public types at the top of src/ and each other.

/**
 * A short description of any thrown value: an error's message, a string, or
 * the value as JSON or text. It never throws, whatever the value's getters,
 * `toString` or Proxy traps do: an undescribable value is described as such,
 * with what describing it threw.
 */
export function describeError(error: unknown): string {
  return describeWithin(error, 1);
}

/** `describeError`, which describes what a failed description threw `depth` levels deep. */
function describeWithin(value: unknown, depth: number): string {
  if (typeof value === "string") return value;
  if (isError(value)) {
    const message = attempt(() => value.message);
    if (!message.ok) return undescribable(value, "reading its message", message.thrown, depth);
    if (typeof message.value === "string") return message.value;
  }
  const json = attempt(() => JSON.stringify(value));
  if (json.ok && typeof json.value === "string") return json.value;
  const text = attempt(() => String(value));
  return text.ok ? text.value : undescribable(value, "its toString", text.thrown, depth);
}

function undescribable(value: unknown, what: string, thrown: unknown, depth: number): string {
  let why = `${what} threw a value that cannot be described either`;
  if (thrown === value) why = `${what} threw the value itself`;
  else if (depth > 0) why = `${what} threw: ${describeWithin(thrown, depth - 1)}`;
  return `a value that cannot be described (${why})`;
}

/** The outcome of a call that may throw. */
export type Attempt<T> = { ok: true; value: T } | { ok: false; thrown: unknown };

/** Runs `call`, and what it returned or threw. */
export function attempt<T>(call: () => T): Attempt<T> {
  try {
    return { ok: true, value: call() };
  } catch (thrown) {
    return { ok: false, thrown };
  }
}

/** `value instanceof Error`, false where a Proxy's `getPrototypeOf` throws. */
export function isError(value: unknown): value is Error {
  const checked = attempt(() => value instanceof Error);
  return checked.ok && checked.value;
}

/** Renders a value for an error message. */
export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "function") return `function ${value.name}`;
  if (Array.isArray(value)) return `[${value.map(show).join(", ")}]`;
  if (value instanceof URL) return value.href;
  if (typeof value === "object" && value !== null) {
    try {
      return JSON.stringify(value) ?? String(value);
    } catch {
      return Object.prototype.toString.call(value);
    }
  }
  return String(value);
}
