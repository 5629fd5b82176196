import { z } from "zod";
import type { Env } from "./env.js";

const ConfigSchema = z.object({
  serverName: z.string().min(1),
  publicBaseUrl: z.string().url(),
  registration: z.enum(["closed", "open", "token"]),
  maxJsonBodyBytes: z.number().int().positive(),
  federationDelegate: z.string().optional(),
});

export type Config = z.infer<typeof ConfigSchema>;

const cache = new WeakMap<Env, Config>();

/** Reads the server's configuration from wrangler vars once per isolate and env. */
export function getConfig(env: Env): Config {
  const hit = cache.get(env);
  if (hit) return hit;
  const config = ConfigSchema.parse({
    serverName: env.SERVER_NAME,
    publicBaseUrl: env.PUBLIC_BASEURL.replace(/\/+$/, ""),
    registration: env.REGISTRATION ?? "closed",
    maxJsonBodyBytes: Number(env.MAX_JSON_BODY_BYTES ?? 1_048_576),
    federationDelegate: env.FEDERATION_DELEGATE || undefined,
  });
  cache.set(env, config);
  return config;
}
