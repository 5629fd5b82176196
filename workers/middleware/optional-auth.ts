import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv, AuthInfo } from "../app-env.js";
import { accessTokenOf, requireAuth } from "./auth.js";

/**
 * For endpoints that serve anonymous callers too (GET /publicRooms, the room summary):
 * a request with an access token is authenticated as usual (an invalid token is still
 * 401); one without goes through with no `auth`. Read it with `authOf(c)`.
 */
export function optionalAuth(opts: { allowGuest?: boolean } = {}): MiddlewareHandler<AppEnv> {
  const auth = requireAuth(opts);
  return async (c, next) => (accessTokenOf(c) === undefined ? next() : auth(c, next));
}

export function authOf(c: Context<AppEnv>): AuthInfo | undefined {
  return c.get("auth") as AuthInfo | undefined;
}
