import type { JsonObject } from "../src/json.js";
import type { Env } from "../services/env.js";

/** Who made an authenticated request (set by the auth middleware). */
export interface AuthInfo {
  userId: string;
  deviceId: string;
  isGuest: boolean;
  /** Row id of the access token, for logout and refresh. */
  tokenId: number;
}

/** Hono's typing of our bindings and per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    auth: AuthInfo;
    /** The server that signed a federation request (workers/middleware/federation-auth.ts). */
    origin: string;
    /** A federation request's parsed JSON body. */
    federationContent: JsonObject;
  };
}
