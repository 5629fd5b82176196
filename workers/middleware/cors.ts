/**
 * CORS on every response, and OPTIONS answered before any endpoint logic
 * (client-server-api "Web Browser Clients"). PATCH is not used by any endpoint we serve.
 */
export const CORS_HEADERS: Record<string, string> = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, DELETE, OPTIONS",
  "Access-Control-Allow-Headers": "X-Requested-With, Content-Type, Authorization",
  "Access-Control-Expose-Headers": "Content-Disposition, Content-Range, Retry-After",
};

export function preflightResponse(): Response {
  return new Response(null, { status: 204, headers: { ...CORS_HEADERS, "Access-Control-Max-Age": "86400" } });
}

export function withCors(res: Response): Response {
  let out = res;
  try {
    for (const [k, v] of Object.entries(CORS_HEADERS)) out.headers.set(k, v);
  } catch {
    // Headers of a fetched response are immutable: copy once.
    out = new Response(res.body, res);
    for (const [k, v] of Object.entries(CORS_HEADERS)) out.headers.set(k, v);
  }
  return out;
}
