import type { Context } from "hono";
import { MatrixError } from "../../src/errors.js";

/** One place where every error becomes the spec's `{errcode, error}` JSON. */
export function errorResponse(e: MatrixError): Response {
  return new Response(JSON.stringify(e.toJSON()), {
    status: e.status,
    headers: { "Content-Type": "application/json", ...e.headers },
  });
}

/** `app.onError`: Matrix errors as they are; anything else is a bug, logged with the request id. */
export function onError(err: Error, c: Context): Response {
  if (err instanceof MatrixError) return errorResponse(err);
  const requestId = c.get("requestId") ?? "unknown";
  console.error(`[${requestId}] ${c.req.method} ${new URL(c.req.url).pathname}:`, err.stack ?? err);
  return errorResponse(
    new MatrixError("M_UNKNOWN", `Internal server error (request ${requestId})`, 500),
  );
}
