import { parseHostRules, type PreviewPolicy } from "../../src/url-preview-policy.js";
import type { Env } from "../env.js";

/** Outbound federation settings (README "Federation"). */
export interface FederationConfig {
  /**
   * Which addresses outbound federation may reach: the previewer's rules
   * (src/url-preview-policy.ts) with any port allowed. Private, loopback and
   * metadata addresses are refused unless allow-listed (Synapse's
   * `ip_range_blacklist` / `ip_range_whitelist`).
   */
  policy: PreviewPolicy;
  /**
   * Server names spoken to over plain http instead of https. For local
   * testing only: the spec requires TLS between servers.
   */
  plaintext: ReadonlySet<string>;
  /** DoH JSON endpoint for address and SRV lookups; empty: IP-literal and allow-listed names only, no SRV. */
  dohUrl: string;
  /** Per outbound request (each hop of .well-known, key fetches). */
  timeoutMs: number;
}

const cache = new WeakMap<Env, FederationConfig>();

export function getFederationConfig(env: Env): FederationConfig {
  const hit = cache.get(env);
  if (hit) return hit;
  const timeoutMs = Number(env.FEDERATION_TIMEOUT_MS || 10_000);
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) throw new Error("FEDERATION_TIMEOUT_MS must be a positive integer");
  const config: FederationConfig = {
    policy: { allow: parseHostRules(env.FEDERATION_ALLOW), deny: parseHostRules(env.FEDERATION_DENY) },
    plaintext: new Set(
      (env.FEDERATION_PLAINTEXT ?? "")
        .split(/[\s,]+/)
        .map((s) => s.trim())
        .filter(Boolean),
    ),
    dohUrl: env.FEDERATION_DOH_URL ?? "https://1.1.1.1/dns-query",
    timeoutMs,
  };
  cache.set(env, config);
  return config;
}
