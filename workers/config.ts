import { z } from "zod";
import type { Env } from "../services/env.js";
import { DEFAULT_ROOM_VERSION, ROOM_VERSIONS } from "../src/room-versions.js";

const TermsSchema = z.record(
  z.string(),
  z.looseObject({ version: z.string() }),
);

const ConfigSchema = z.object({
  serverName: z.string().min(1),
  publicBaseUrl: z.string().url(),
  registration: z.enum(["closed", "open", "token"]),
  allowGuests: z.boolean(),
  maxJsonBodyBytes: z.number().int().positive(),
  federationDelegate: z.string().optional(),
  /** Regexes over full user ids that only application services may register (M_EXCLUSIVE). */
  exclusiveUserNamespaces: z.array(z.instanceof(RegExp)),
  passwordMinLength: z.number().int().nonnegative(),
  /** `m.login.terms` policies (spec "Terms of service at registration"); none when empty. */
  termsPolicies: TermsSchema,
  registrationSharedSecret: z.string().optional(),
  /** The version of rooms created without one (DEFAULT_ROOM_VERSION; README "Configuration"). */
  defaultRoomVersion: z.string().refine((v) => ROOM_VERSIONS.has(v), { message: "DEFAULT_ROOM_VERSION is not a room version this server supports" }),
});

export type Config = z.infer<typeof ConfigSchema>;

const cache = new WeakMap<Env, Config>();

function parseJsonVar(name: string, value: string | undefined): unknown {
  if (!value) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    throw new Error(`${name} must be JSON`);
  }
}

/** Reads the server's configuration from wrangler vars and secrets once per isolate and env. */
export function getConfig(env: Env): Config {
  const hit = cache.get(env);
  if (hit) return hit;
  const config = ConfigSchema.parse({
    serverName: env.SERVER_NAME,
    publicBaseUrl: env.PUBLIC_BASEURL.replace(/\/+$/, ""),
    registration: env.REGISTRATION ?? "closed",
    allowGuests: env.ALLOW_GUESTS === "true",
    maxJsonBodyBytes: Number(env.MAX_JSON_BODY_BYTES ?? 1_048_576),
    federationDelegate: env.FEDERATION_DELEGATE || undefined,
    exclusiveUserNamespaces: (env.EXCLUSIVE_USER_NAMESPACES ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => new RegExp(s)),
    passwordMinLength: Number(env.PASSWORD_MIN_LENGTH ?? 0),
    termsPolicies: parseJsonVar("TERMS_POLICIES", env.TERMS_POLICIES) ?? {},
    registrationSharedSecret: env.REGISTRATION_SHARED_SECRET || undefined,
    defaultRoomVersion: env.DEFAULT_ROOM_VERSION || DEFAULT_ROOM_VERSION,
  });
  cache.set(env, config);
  return config;
}
