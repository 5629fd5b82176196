/**
 * A server that just made an authenticated request to us is up: forget any
 * backoff our queue for it is in, so what waits for it goes now rather than
 * after hours (Synapse resets its retry timings the same way on any inbound
 * request). Throttled per isolate: one Federation DO call per origin a minute.
 */
import type { Env } from "../../services/env.js";

const THROTTLE_MS = 60_000;
const MAX_TRACKED = 1_000;
const lastWake = new Map<string, number>();

export function destinationSeen(env: Env, ctx: { waitUntil(p: Promise<unknown>): void }, origin: string, now = Date.now()): void {
  if ((lastWake.get(origin) ?? -Infinity) > now - THROTTLE_MS) return;
  if (lastWake.size >= MAX_TRACKED) lastWake.clear();
  lastWake.set(origin, now);
  ctx.waitUntil(env.FEDERATION.getByName(origin).retryNow().catch(() => undefined));
}
