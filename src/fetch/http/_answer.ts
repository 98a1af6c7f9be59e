// Reading a data host's answer: the one batch of a 200's body, what an
// error status said (its JSON `{ name, message }`, from at most 64 KiB of
// its body), and how long a 503 asks to wait. Every path reads the body to
// its end or cancels it, so no answer is left open.

import { describeError } from "../../_describe.ts";

/** The longest a 503 keeps a host busy, whatever its Retry-After says: 30 s. */
const MAX_BUSY_MS = 30_000;

/** How long a 503 whose Retry-After is not whole seconds keeps a host busy: 1 s. */
const DEFAULT_BUSY_MS = 1_000;

/** The shortest a 503 keeps a host busy (a Retry-After of 0 would send again at once). */
const MIN_BUSY_MS = 100;

/** The most of an error body that is read: the rest is cancelled, however long it is. */
const MAX_ERROR_BODY = 64 * 1024;

/** The most of an error body that goes into a message, when it is not the contract's JSON. */
const MAX_SAID = 200;

/**
 * How long a 503 from `host` asks the client to wait, in ms: its
 * Retry-After in whole seconds (1 s when not a number), from 0.1 s to
 * 30 s; the body is cancelled. A 503 without Retry-After is what a host
 * that is going away (closed) answers: an error that names `host`.
 */
export async function retryAfter(response: Response, host: string): Promise<number> {
  const header = response.headers.get("retry-after")?.trim();
  if (header === undefined) {
    throw new Error(
      `${host} answered 503 without Retry-After, as a host that is going away does: ${await whatItSaid(
        response,
      )}`,
    );
  }
  await response.body?.cancel();
  const ms = /^\d+$/.test(header) ? Number(header) * 1_000 : DEFAULT_BUSY_MS;
  return Math.min(Math.max(ms, MIN_BUSY_MS), MAX_BUSY_MS);
}

/**
 * What an error response said: `name: message` of its JSON body, else the
 * start of its text, else its status text. Reads at most 64 KiB of the body.
 */
export async function whatItSaid(response: Response): Promise<string> {
  const text = await startOf(response);
  try {
    const { name, message } = JSON.parse(text);
    if (typeof message === "string") {
      return typeof name === "string" ? `${name}: ${message}` : message;
    }
  } catch {
    // Not the contract's JSON (a proxy's page, or cut short): its text says what it can.
  }
  const start = text.trim().slice(0, MAX_SAID);
  return start || response.statusText || "no reason given";
}

/** The text of the first 64 KiB of a body (what arrived, if it fails); the rest is cancelled. */
async function startOf(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (reader && size < MAX_ERROR_BODY) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // Cut off: what arrived says what it can.
  } finally {
    // Nothing to cancel once read to its end; the rest, else.
    await reader?.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(Math.min(size, MAX_ERROR_BODY));
  let at = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, bytes.length - at);
    bytes.set(part, at);
    at += part.length;
  }
  return new TextDecoder().decode(bytes);
}

/**
 * Checks that a success from `host` says, in `x-pydataset-index`, that it
 * carries batch `index` (the contract's header); else cancels the body
 * and throws an error that names `host`.
 */
export async function checkServed(response: Response, index: number, host: string): Promise<void> {
  const served = response.headers.get("x-pydataset-index");
  if (served === String(index)) return;
  await response.body?.cancel();
  throw new Error(
    served === null
      ? `${host} answered ${response.status} without the x-pydataset-index header, so which batch it carries is unknown`
      : `${host} answered batch ${served} when asked for batch ${index}`,
  );
}

/**
 * The one batch in a 200's body, read with `read` (the wire decoder) to
 * the end of the body; an error that names `host` when the body holds no
 * batch, more than one, or cannot be read. Aborting the request's signal
 * ends the read with the signal's reason.
 */
export async function onlyBatch<B>(
  response: Response,
  read: (response: Response) => ReadableStream<B>,
  host: string,
): Promise<B> {
  let reader: ReadableStreamDefaultReader<B> | undefined;
  let first: ReadableStreamReadResult<B>;
  let rest: ReadableStreamReadResult<B>;
  try {
    reader = read(response).getReader();
    first = await reader.read();
    rest = first.done ? first : await reader.read();
  } catch (error) {
    if (reader) reader.cancel().catch(() => {});
    else if (!response.bodyUsed) response.body?.cancel().catch(() => {});
    throw new Error(`${host} answered 200, but its body failed: ${nameAndMessage(error)}`, {
      cause: error,
    });
  }
  if (first.done) throw new Error(`${host} answered 200 with no batch in its body`);
  if (!rest.done) {
    reader.cancel().catch(() => {});
    throw new Error(`${host} answered 200 with more than one batch in its body`);
  }
  return first.value;
}

/** `name: message` of an error, or its description. */
export function nameAndMessage(error: unknown): string {
  const described = describeError(error);
  return error instanceof Error ? `${error.name}: ${described}` : described;
}
