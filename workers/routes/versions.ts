import { Hono } from "hono";
import type { AppEnv } from "../app-env.js";

/**
 * Spec versions this server implements. Matrix releases are additive, and a
 * version is listed only once every endpoint it requires answers per the spec;
 * see README "Spec coverage" for what is served today.
 */
export const SUPPORTED_SPEC_VERSIONS = ["v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11", "v1.12", "v1.13", "v1.14", "v1.15", "v1.16"];

/** Unstable features we actually implement; each is `true` only when it is served. */
export const UNSTABLE_FEATURES: Record<string, boolean> = {
  // Deleting account data (workers/routes/account-data.ts).
  "org.matrix.msc3391": true,
  // Simplified sliding sync, MSC4186 (workers/routes/sliding-sync.ts): Element X requires it.
  "org.matrix.simplified_msc3575": true,
};

export const versionsRoutes = new Hono<AppEnv>();

/** GET /_matrix/client/versions (client-server-api "Supported versions") */
versionsRoutes.get("/_matrix/client/versions", (c) =>
  c.json({ versions: SUPPORTED_SPEC_VERSIONS, unstable_features: UNSTABLE_FEATURES }),
);
