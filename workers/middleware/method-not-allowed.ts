import type { Context } from "hono";
import { MatrixError } from "../../src/errors.js";
import { errorResponse } from "./errors.js";

interface RouteInfo {
  method: string;
  path: string;
}

/** Turns a Hono path pattern (`/rooms/:roomId/send/:type/:txn`, `:x{re}`, `*`) into a RegExp. */
function patternToRegExp(path: string): RegExp {
  let re = "";
  for (const part of path.split("/").slice(1)) {
    re += "/";
    const m = /^:(\w+)(?:\{(.+)\})?(\?)?$/.exec(part);
    if (m) re += m[2] ? `(?:${m[2]})` : "[^/]+";
    else if (part === "*") re += ".*";
    else re += part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re || "/"}$`);
}

/**
 * The spec asks for 404 M_UNRECOGNIZED on unknown endpoints and 405 M_UNRECOGNIZED
 * when the path is known but the method is not (client-server-api "Common error codes").
 */
export function makeNotFoundHandler(routes: () => RouteInfo[]) {
  let compiled: { method: string; re: RegExp }[] | undefined;
  return (c: Context): Response => {
    compiled ??= routes()
      .filter((r) => r.method !== "ALL")
      .map((r) => ({ method: r.method, re: patternToRegExp(r.path) }));
    const path = new URL(c.req.url).pathname;
    const allowed = [...new Set(compiled.filter((r) => r.re.test(path)).map((r) => r.method))];
    if (allowed.length > 0) {
      if (allowed.includes("GET")) allowed.push("HEAD");
      return errorResponse(
        new MatrixError("M_UNRECOGNIZED", "Method not allowed for this endpoint", 405, {}, {
          Allow: [...allowed, "OPTIONS"].join(", "),
        }),
      );
    }
    return errorResponse(new MatrixError("M_UNRECOGNIZED", "Unrecognized request", 404));
  };
}
