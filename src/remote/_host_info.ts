// What a RemoteDataset learns from its hosts as it connects: every host's
// `GET /info` in parallel, within the timeout, checked against protocol 1,
// and one length they all agree on. A redirect is not followed (it fails
// that host), and an error's body is read only so far (`whatItSaid`).

import { show } from "../_describe.ts";
import { nameAndMessage, whatItSaid } from "../fetch/http/_answer.ts";
import type { Host } from "../fetch/http/_hosts.ts";
import { MEDIA_TYPE } from "../wire/batch_response.ts";

/** The version of the HTTP contract this client speaks. */
const PROTOCOL = 1;

/** What the hosts serve. */
export interface HostInfo {
  /** The dataset's class name, as the first host says it. */
  name: string;
  /** Its number of batches: `Infinity` for `null`. */
  length: number;
}

/** What one host said, or why it cannot be used. */
type Answer = { host: Host; info: HostInfo } | { host: Host; problem: string };

/**
 * Reads every host's `/info` at once, for at most `timeout` ms.
 *
 * @throws {Error} A host that cannot be reached or speaks another
 * protocol (each such host named), or hosts whose lengths differ.
 */
export async function readHostInfo(
  hosts: readonly Host[],
  headers: Headers,
  signal: AbortSignal | undefined,
  timeout: number,
): Promise<HostInfo> {
  const expiry = new AbortController();
  const timer = setTimeout(() => {
    expiry.abort(new DOMException(`/info took longer than ${timeout} ms`, "TimeoutError"));
  }, timeout);
  const stop = signal ? AbortSignal.any([signal, expiry.signal]) : expiry.signal;
  let answers: Answer[];
  try {
    answers = await Promise.all(hosts.map((host) => answerOf(host, headers, stop)));
  } finally {
    clearTimeout(timer);
  }
  signal?.throwIfAborted();
  return agreed(answers);
}

/** What `host` says at `/info`; never rejects. */
async function answerOf(host: Host, headers: Headers, signal: AbortSignal): Promise<Answer> {
  let response: Response;
  try {
    response = await fetch(new URL("info", host.url), { headers, signal, redirect: "error" });
  } catch (error) {
    return { host, problem: `cannot be reached: ${nameAndMessage(error)}` };
  }
  try {
    if (!response.ok) {
      return { host, problem: `answered ${response.status}: ${await whatItSaid(response)}` };
    }
    return { host, ...checkInfo(await response.json()) };
  } catch (error) {
    await response.body?.cancel().catch(() => {});
    return { host, problem: `answered /info with what is not JSON: ${nameAndMessage(error)}` };
  }
}

/** The info in a body, or what is wrong with it. */
function checkInfo(body: unknown): { info: HostInfo } | { problem: string } {
  const { protocol, name, length, mediaType } = (body ?? {}) as Record<string, unknown>;
  if (protocol !== PROTOCOL) {
    return { problem: `speaks protocol ${show(protocol)}, not ${PROTOCOL}` };
  }
  if (mediaType !== MEDIA_TYPE) {
    return { problem: `sends ${show(mediaType)}, not ${MEDIA_TYPE}` };
  }
  const finite = typeof length === "number" && Number.isSafeInteger(length) && length >= 0;
  if (!finite && length !== null) {
    return { problem: `says its length is ${show(length)}, not a non-negative integer or null` };
  }
  return {
    info: { name: typeof name === "string" ? name : "", length: finite ? length : Infinity },
  };
}

/** The info every host agrees on. */
function agreed(answers: Answer[]): HostInfo {
  const problems = answers.flatMap((answer) =>
    "problem" in answer ? [`${answer.host.name} ${answer.problem}`] : []
  );
  if (problems.length > 0) {
    throw new Error(`Cannot connect RemoteDataset as ${problems.join("; ")}`);
  }
  const infos = answers.map((answer) => ({
    host: answer.host,
    ...(answer as { info: HostInfo }).info,
  }));
  const lengths = new Set(infos.map(({ length }) => length));
  if (lengths.size > 1) {
    const each = infos.map(({ host, length }) => `${host.name} has ${length}`).join(", ");
    throw new Error(
      `Cannot connect RemoteDataset as its hosts must serve the same number of batches: ${each}`,
    );
  }
  return { name: infos[0]!.name, length: infos[0]!.length };
}
