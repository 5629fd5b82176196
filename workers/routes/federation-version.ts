import { Hono } from "hono";
import type { AppEnv } from "../app-env.js";

export const SERVER_IMPLEMENTATION = { name: "edge-matrix", version: "0.1.0" };

export const federationVersionRoutes = new Hono<AppEnv>();

/** GET /_matrix/federation/v1/version (server-server-api "Server implementation") */
federationVersionRoutes.get("/_matrix/federation/v1/version", (c) => c.json({ server: SERVER_IMPLEMENTATION }));
