import { Hono } from "hono";
import type { AppEnv } from "../app-env.js";
import { getConfig } from "../config.js";

export const wellKnownRoutes = new Hono<AppEnv>();

/** GET /.well-known/matrix/client (client-server-api "Well-known URIs") */
wellKnownRoutes.get("/.well-known/matrix/client", (c) => {
  const { publicBaseUrl } = getConfig(c.env);
  return c.json({ "m.homeserver": { base_url: publicBaseUrl } });
});

/**
 * GET /.well-known/matrix/server (server-server-api "Server discovery"): delegate
 * federation to the public base URL's host, on 443 unless it names another port.
 */
wellKnownRoutes.get("/.well-known/matrix/server", (c) => {
  const { publicBaseUrl, federationDelegate } = getConfig(c.env);
  const url = new URL(publicBaseUrl);
  const port = url.port || (url.protocol === "http:" ? "80" : "443");
  return c.json({ "m.server": federationDelegate ?? `${url.hostname}:${port}` });
});
