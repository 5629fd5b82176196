/**
 * Federation content repository (server-server-api "Content Repository",
 * spec v1.11 / MSC3916): other servers fetch our users' media here, signed
 * with X-Matrix. Only our own media is served; the answer is multipart/mixed
 * with an empty JSON metadata part, then the bytes.
 */
import { Hono, type Context } from "hono";
import type { AppEnv } from "../app-env.js";
import { getConfig } from "../config.js";
import { downloadMedia, thumbnailMedia } from "../media/local-media.js";
import { requireServerAuth } from "../middleware/federation-auth.js";

type Ctx = Context<AppEnv>;

const ours = (c: Ctx) => getConfig(c.env).serverName;

export const federationMediaRoutes = new Hono<AppEnv>();

/** GET /_matrix/federation/v1/media/download/{mediaId} */
federationMediaRoutes.get("/_matrix/federation/v1/media/download/:mediaId", requireServerAuth(), (c) =>
  downloadMedia(c, ours(c), c.req.param("mediaId"), "federation"),
);

/** GET /_matrix/federation/v1/media/thumbnail/{mediaId} */
federationMediaRoutes.get("/_matrix/federation/v1/media/thumbnail/:mediaId", requireServerAuth(), (c) =>
  thumbnailMedia(c, ours(c), c.req.param("mediaId"), "federation"),
);
