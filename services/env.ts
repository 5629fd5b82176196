import type { FederationApi } from "./federation-api.js";
import type { RoomApi } from "./room-api.js";
import type { UserApi } from "./user-api.js";
import type { WakeApi } from "./wake-api.js";

/**
 * Bindings and vars from wrangler.toml (and secrets set with `wrangler secret put`),
 * declared once beneath both the Worker and the Durable Objects. The Durable Object
 * namespaces are typed by their RPC interfaces, which the classes implement, so this
 * file imports no class and no import circle runs through it.
 */
export interface Env {
  ROOM: DurableObjectNamespace<RoomApi>;
  USER: DurableObjectNamespace<UserApi>;
  FEDERATION: DurableObjectNamespace<FederationApi>;
  /** Long-poll wake-ups, sharded by user (durable-objects/wake/wake.ts, services/wake.ts). */
  WAKE: DurableObjectNamespace<WakeApi>;
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
  /** Version of rooms created without one (default 10, as Synapse; the spec recommends 12). */
  DEFAULT_ROOM_VERSION?: string;
  /** Largest JSON request body accepted, in bytes. */
  MAX_JSON_BODY_BYTES?: string;
  /** Where other servers should connect, for /.well-known/matrix/server (host:port). */
  FEDERATION_DELEGATE?: string;
  /** Media (README "Media"; parsed in r2/media-config.ts). Largest upload in bytes (`m.upload.size`). */
  MEDIA_MAX_UPLOAD_BYTES?: string;
  /** ms timestamp: media uploaded at or after it is served only on the authenticated endpoints. */
  MEDIA_FREEZE_TS?: string;
  MEDIA_MAX_PENDING_UPLOADS?: string;
  MEDIA_UNUSED_EXPIRY_MS?: string;
  MEDIA_THUMBNAIL_MAX_PIXELS?: string;
  MEDIA_THUMBNAIL_MAX_SOURCE_BYTES?: string;
  MEDIA_ANIMATED_MAX_BYTES?: string;
  /** "false" turns preview_url off. */
  URL_PREVIEW_ENABLED?: string;
  /** Hosts/CIDRs (JSON array or comma list) the previewer may reach even if private or on other ports. */
  URL_PREVIEW_ALLOW?: string;
  /** Hosts/CIDRs the previewer never fetches. */
  URL_PREVIEW_DENY?: string;
  URL_PREVIEW_MAX_BYTES?: string;
  URL_PREVIEW_TIMEOUT_MS?: string;
  URL_PREVIEW_CACHE_TTL_MS?: string;
  /** ms after which images fetched for previews are deleted by the hourly maintenance; 0 keeps them. */
  URL_PREVIEW_IMAGE_RETENTION_MS?: string;
  /** DNS-over-HTTPS JSON endpoint for the previewer's SSRF check; empty: IP-literal URLs only. */
  URL_PREVIEW_DOH_URL?: string;
  /** Hosts/CIDRs (JSON array or comma list) outbound federation may reach even if private (tests: 127.0.0.1). */
  FEDERATION_ALLOW?: string;
  /** Hosts/CIDRs outbound federation never reaches. */
  FEDERATION_DENY?: string;
  /** Server names reached over plain http (local testing only; the spec requires TLS). */
  FEDERATION_PLAINTEXT?: string;
  /** DNS-over-HTTPS JSON endpoint for federation's address and SRV lookups. */
  FEDERATION_DOH_URL?: string;
  /** Least time between two fetches of one server's keys, ms (default 60000). */
  FEDERATION_KEY_REFETCH_MS?: string;
  /** Timeout per outbound federation request, ms. */
  FEDERATION_TIMEOUT_MS?: string;
  /**
   * Outbound queue (durable-objects/federation/queue-config.ts): delay after a failed
   * transaction, doubled per further failure (default 10000 ms), up to
   * FEDERATION_RETRY_MAX_MS (default 86400000, a day).
   */
  FEDERATION_RETRY_BASE_MS?: string;
  FEDERATION_RETRY_MAX_MS?: string;
  /** Most PDUs queued for one destination; beyond it the oldest are dropped (default 10000). */
  FEDERATION_QUEUE_MAX_PDUS?: string;
  /** Most EDUs queued for one destination (default 10000). */
  FEDERATION_QUEUE_MAX_EDUS?: string;
  /** How long an EDU waits to be sent before it is dropped, ms (default 3600000; typing at most 1 min, to-device and device lists at least 7 days). */
  FEDERATION_EDU_MAX_AGE_MS?: string;
  /** How many Wake Durable Objects long-polls are spread over (services/wake.ts, default 4). */
  WAKE_SHARDS?: string;
  /** Secret: `ed25519 <version> <unpadded base64 seed>` (Synapse's signing key file format). */
  SIGNING_KEY?: string;
}
