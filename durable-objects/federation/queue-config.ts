/**
 * Settings of the outbound federation queue (README "Federation": the queue,
 * its backoff and its bounds), read from the vars once per env.
 */
import type { Env } from "../../services/env.js";

export interface QueueConfig {
  /** Delay after the first failed transaction; it doubles with each further failure. */
  retryBaseMs: number;
  /** The longest delay between two attempts. */
  retryMaxMs: number;
  /** Most PDUs kept for one destination; beyond it the oldest are dropped (the remote catches up). */
  maxPdus: number;
  /** Most EDUs kept for one destination; beyond it the oldest are dropped. */
  maxEdus: number;
  /** How long an ordinary EDU (receipts, presence, …) is worth sending. */
  eduMaxAgeMs: number;
}

/**
 * Synapse's `destination_min_retry_interval` is 10 min (×2 per failure, up to 7 days),
 * and it retries only when new data is queued. Here a dead server costs one alarm per
 * attempt, and a remote that was restarting is better reached within a minute or two,
 * so the default starts at 10 s and doubles up to a day.
 */
export const DEFAULT_RETRY_BASE_MS = 10_000;
export const DEFAULT_RETRY_MAX_MS = 24 * 3600_000;
export const DEFAULT_MAX_PDUS = 10_000;
export const DEFAULT_MAX_EDUS = 10_000;
export const DEFAULT_EDU_MAX_AGE_MS = 3600_000;

/** Typing notices mean nothing after a minute (senders refresh them every few seconds while typing). */
const TYPING_MAX_AGE_MS = 60_000;
/**
 * Keys for encrypted messages and device list changes: losing them breaks
 * decryption on the other side, so they are kept for a week (the caps still apply).
 */
const DURABLE_EDU_MAX_AGE_MS = 7 * 24 * 3600_000;
const DURABLE_EDU_TYPES = new Set(["m.direct_to_device", "m.device_list_update", "m.signing_key_update"]);

const cache = new WeakMap<Env, QueueConfig>();

function positiveInt(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer`);
  return n;
}

export function getQueueConfig(env: Env): QueueConfig {
  const hit = cache.get(env);
  if (hit) return hit;
  const config: QueueConfig = {
    retryBaseMs: positiveInt(env.FEDERATION_RETRY_BASE_MS, DEFAULT_RETRY_BASE_MS, "FEDERATION_RETRY_BASE_MS"),
    retryMaxMs: positiveInt(env.FEDERATION_RETRY_MAX_MS, DEFAULT_RETRY_MAX_MS, "FEDERATION_RETRY_MAX_MS"),
    maxPdus: positiveInt(env.FEDERATION_QUEUE_MAX_PDUS, DEFAULT_MAX_PDUS, "FEDERATION_QUEUE_MAX_PDUS"),
    maxEdus: positiveInt(env.FEDERATION_QUEUE_MAX_EDUS, DEFAULT_MAX_EDUS, "FEDERATION_QUEUE_MAX_EDUS"),
    eduMaxAgeMs: positiveInt(env.FEDERATION_EDU_MAX_AGE_MS, DEFAULT_EDU_MAX_AGE_MS, "FEDERATION_EDU_MAX_AGE_MS"),
  };
  cache.set(env, config);
  return config;
}

/** How long an EDU of this type is worth sending after it was queued. */
export function eduMaxAgeMs(config: QueueConfig, eduType: string): number {
  if (eduType === "m.typing") return Math.min(TYPING_MAX_AGE_MS, config.eduMaxAgeMs);
  if (DURABLE_EDU_TYPES.has(eduType)) return Math.max(DURABLE_EDU_MAX_AGE_MS, config.eduMaxAgeMs);
  return config.eduMaxAgeMs;
}

/**
 * The delay before the next attempt after `failures` consecutive failures (≥ 1):
 * base × 2^(failures−1), capped, then stretched by up to a quarter at random so
 * destinations that failed together (our own outage) do not all retry at once.
 */
export function backoffMs(config: QueueConfig, failures: number, random: number = Math.random()): number {
  const exp = Math.min(Math.max(failures - 1, 0), 40);
  const delay = Math.min(config.retryBaseMs * 2 ** exp, config.retryMaxMs);
  return Math.min(Math.round(delay * (1 + 0.25 * random)), config.retryMaxMs);
}
