// Cross-origin access for pages that train in a browser: the origins a
// host allows get an `access-control-allow-origin` of their own (never a
// bare `*`, so caches keep one answer per origin, as `vary: origin` tells
// them) and may read the headers a client needs; a preflight is answered
// with the one method, GET.

/** The origins a host allows: a list, or `"*"` for every origin. */
export type CorsOrigins = readonly string[] | "*";

/** The headers a page may read: how many batches, which batch, when to retry. */
const EXPOSED = "x-pydataset-batches, x-pydataset-index, retry-after";

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
  if (request.method === "OPTIONS") headers.set("access-control-allow-methods", "GET");
  return response;
}

/** The answer to a preflight `OPTIONS`, before {@linkcode addCorsHeaders}: 204. */
export function preflight(): Response {
  return new Response(null, { status: 204 });
}

function allowedOrigin(request: Request, allowed: CorsOrigins): string | undefined {
  const origin = request.headers.get("origin");
  if (origin === null) return undefined;
  return allowed === "*" || allowed.includes(origin) ? origin : undefined;
}
