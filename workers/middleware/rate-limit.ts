import { limitExceeded } from "../../src/errors.js";

/**
 * Rate limits use the Workers Rate Limiting binding (configured in wrangler.toml:
 * limit per period, period 10 s or 60 s). The binding does not say when a key's
 * window resets, so `retry_after_ms` is the configured period: an upper bound.
 */
export async function enforceRateLimit(limiter: RateLimit | undefined, key: string, periodMs: number): Promise<void> {
  if (!limiter) return;
  const { success } = await limiter.limit({ key });
  if (!success) throw limitExceeded(periodMs);
}

/** The client's address as Cloudflare reports it; locally every request shares one bucket per header value. */
export function clientIp(req: Request): string {
  return req.headers.get("cf-connecting-ip") ?? req.headers.get("x-real-ip") ?? "local";
}
