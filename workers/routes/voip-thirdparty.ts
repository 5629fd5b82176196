/**
 * Endpoints clients call at startup whose features this server does not offer:
 * TURN credentials (client-server-api "Voice over IP") and third-party networks
 * from application services ("Third-party networks"). Answered as Synapse answers
 * when nothing is configured: an empty object.
 */
import { Hono } from "hono";
import type { AppEnv } from "../app-env.js";
import { requireAuth } from "../middleware/auth.js";
import { clientV3 } from "./paths.js";

export const voipThirdPartyRoutes = new Hono<AppEnv>();

/** GET /_matrix/client/v3/voip/turnServer: no TURN server is configured. */
voipThirdPartyRoutes.get(clientV3("/voip/turnServer"), requireAuth({ allowGuest: true }), (c) => c.json({}));

/** GET /_matrix/client/v3/thirdparty/protocols: no application service bridges any network. */
voipThirdPartyRoutes.get(clientV3("/thirdparty/protocols"), requireAuth(), (c) => c.json({}));
