import type { Federation } from "../durable-objects/federation/federation.js";
import type { Room } from "../durable-objects/room/room.js";
import type { User } from "../durable-objects/user/user.js";

/** Bindings and vars from wrangler.toml (and secrets set with `wrangler secret put`). */
export interface Env {
  ROOM: DurableObjectNamespace<Room>;
  USER: DurableObjectNamespace<User>;
  FEDERATION: DurableObjectNamespace<Federation>;
  DB: D1Database;
  MEDIA: R2Bucket;
  /** Per-client-IP request limiter for the client and federation APIs. */
  RL_REQUESTS: RateLimit;
  /** Tighter limiter for credential endpoints (login, register, password). */
  RL_AUTH: RateLimit;

  SERVER_NAME: string;
  PUBLIC_BASEURL: string;
  /** "closed" | "open" | "token" */
  REGISTRATION?: string;
  /** "true" lets clients register guest accounts (kind=guest). */
  ALLOW_GUESTS?: string;
  /** Comma-separated regexes of user ids reserved for application services. */
  EXCLUSIVE_USER_NAMESPACES?: string;
  PASSWORD_MIN_LENGTH?: string;
  /** JSON: m.login.terms policies, e.g. {"privacy_policy":{"version":"1.0","en":{"name":"Privacy","url":"https://…"}}}. */
  TERMS_POLICIES?: string;
  /** Secret: enables Synapse-compatible shared-secret registration (/_synapse/admin/v1/register). */
  REGISTRATION_SHARED_SECRET?: string;
  /** Largest JSON request body accepted, in bytes. */
  MAX_JSON_BODY_BYTES?: string;
  /** Where other servers should connect, for /.well-known/matrix/server (host:port). */
  FEDERATION_DELEGATE?: string;
  /** Secret: `ed25519 <version> <unpadded base64 seed>` (Synapse's signing key file format). */
  SIGNING_KEY?: string;
}
