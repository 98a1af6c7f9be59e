// The body of every non-2xx response of a host: JSON `{name, message, index?}`.

import { attempt, describeError, isError } from "../_describe.ts";

/** What a non-2xx response says. */
export interface ErrorReport {
  name: string;
  message: string;
  /** The batch that failed, if one did. */
  index?: number;
}

/** A JSON response of `status` that carries `report`. */
export function errorResponse(
  status: number,
  report: ErrorReport,
  headers: Record<string, string> = {},
): Response {
  return Response.json(report, { status, headers });
}

/** The report of a thrown value: its name and message, and its `index` if it names a batch. */
export function reportOf(error: unknown, index?: number): ErrorReport {
  // A thrown value may be anything, a Proxy whose getters throw included.
  const read = attempt(() => ({
    name: isError(error) && typeof error.name === "string" ? error.name : "Error",
    named: (error as { index?: unknown } | null | undefined)?.index,
  }));
  const { name, named } = read.ok ? read.value : { name: "Error", named: undefined };
  const batch = typeof named === "number" ? named : index;
  return { name, message: describeError(error), ...(batch === undefined ? {} : { index: batch }) };
}
