// Cross-origin access for pages that train in a browser: the origins a
// host allows get an `access-control-allow-origin` of their own (never a
// bare `*`, so caches keep one answer per origin, as `vary: origin` tells
// them) and may read the headers a client needs; a preflight from one is
// answered with the one method, GET, and the request headers it asks for
// (a page may send `authorization`). Another origin gets no CORS headers,
// so its browser blocks the request.

/** The origins a host allows: a list, or `"*"` for every origin. */
export type CorsOrigins = readonly string[] | "*";

/** The headers a page may read: how many batches, which batch, when to retry. */
const EXPOSED = "x-pydataset-batches, x-pydataset-index, retry-after";

/** How long a browser may keep a preflight's answer: 10 minutes. */
const MAX_AGE = "600";

/** Adds the CORS headers `request` earns to `response`: none without `allowed`. */
export function addCorsHeaders(
  request: Request,
  response: Response,
  allowed: CorsOrigins | undefined,
): Response {
  if (allowed === undefined) return response;
  const headers = response.headers;
  headers.append("vary", "origin");
  const origin = allowedOrigin(request, allowed);
  if (origin === undefined) return response;
  headers.set("access-control-allow-origin", origin);
  headers.set("access-control-expose-headers", EXPOSED);
  return response;
}

/**
 * The answer to a preflight `OPTIONS` at a path that exists, before
 * {@linkcode addCorsHeaders}: a 204 that allows GET and the headers asked
 * for, to an allowed origin; a bare 204 to another.
 */
export function preflight(request: Request, allowed: CorsOrigins): Response {
  const headers = new Headers({ vary: "access-control-request-headers" });
  if (allowedOrigin(request, allowed) !== undefined) {
    headers.set("access-control-allow-methods", "GET");
    headers.set("access-control-max-age", MAX_AGE);
    const asked = request.headers.get("access-control-request-headers");
    if (asked !== null) headers.set("access-control-allow-headers", asked);
  }
  return new Response(null, { status: 204, headers });
}

function allowedOrigin(request: Request, allowed: CorsOrigins): string | undefined {
  const origin = request.headers.get("origin");
  if (origin === null) return undefined;
  return allowed === "*" || allowed.includes(origin) ? origin : undefined;
}
