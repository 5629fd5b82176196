import { Hono } from "hono";
import type { AppEnv } from "./app-env.js";
import { ensureMigrated } from "./d1-migrate.js";
import { onError } from "./middleware/errors.js";
import { makeNotFoundHandler } from "./middleware/method-not-allowed.js";
import { clientIp, enforceRateLimit } from "./middleware/rate-limit.js";
import { federationVersionRoutes } from "./routes/federation-version.js";
import { serverKeyRoutes } from "./routes/server-keys.js";
import { versionsRoutes } from "./routes/versions.js";
import { wellKnownRoutes } from "./routes/well-known.js";

/** Must match `simple.period` of RL_REQUESTS in wrangler.toml. */
const REQUESTS_PERIOD_MS = 60_000;

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use("*", async (c, next) => {
    c.set("requestId", c.req.header("cf-ray") ?? crypto.randomUUID());
    await enforceRateLimit(c.env.RL_REQUESTS, `ip:${clientIp(c.req.raw)}`, REQUESTS_PERIOD_MS);
    await ensureMigrated(c.env.DB);
    await next();
  });

  app.route("/", versionsRoutes);
  app.route("/", wellKnownRoutes);
  app.route("/", federationVersionRoutes);
  app.route("/", serverKeyRoutes);

  app.onError(onError);
  app.notFound(makeNotFoundHandler(() => app.routes));
  return app;
}
