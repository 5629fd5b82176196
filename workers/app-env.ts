import type { Env } from "./env.js";

/** Hono's typing of our bindings and per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
  };
}
