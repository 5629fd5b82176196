import type { MiddlewareHandler } from "hono";
import { forbidden } from "../../src/errors.js";
import type { AppEnv } from "../app-env.js";
import { requireAuth } from "./auth.js";

/** Authenticates and then requires a server admin (Synapse admin API semantics). */
export function requireAdmin(): MiddlewareHandler<AppEnv> {
  const auth = requireAuth();
  return async (c, next) =>
    auth(c, async () => {
      const row = await c.env.DB.prepare("SELECT is_admin FROM users WHERE user_id = ?")
        .bind(c.get("auth").userId)
        .first<{ is_admin: number }>();
      if (!row?.is_admin) throw forbidden("You are not a server admin");
      await next();
    });
}
