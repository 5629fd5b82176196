/**
 * Typing notifications (client-server-api "Typing Notifications"): the timeout
 * rules and how one room's set of typing users changes. The room's Durable Object
 * keeps the set (durable-objects/room/typing.ts); this is the pure part.
 */
import type { JsonObject } from "./json.js";

/** When `timeout` is left out (Synapse's default). */
export const DEFAULT_TYPING_TIMEOUT_MS = 30_000;
/** Longer timeouts are cut to this, as Synapse does ("stop people from setting silly typing timeouts"). */
export const MAX_TYPING_TIMEOUT_MS = 120_000;

export function clampTypingTimeout(timeoutMs: number | undefined): number {
  return Math.min(Math.max(timeoutMs ?? DEFAULT_TYPING_TIMEOUT_MS, 0), MAX_TYPING_TIMEOUT_MS);
}

/** user id → when their typing expires (ms since the epoch). */
export type TypingMap = Map<string, number>;

/**
 * Applies one PUT /typing. Returns whether the *set* of typing users changed:
 * refreshing a user who is already typing only moves their expiry, which nobody
 * needs to hear about (Synapse: "if was_present: return").
 */
export function applyTyping(map: TypingMap, userId: string, typing: boolean, timeoutMs: number, now: number): boolean {
  const was = map.has(userId) && map.get(userId)! > now;
  if (typing && timeoutMs > 0) {
    map.set(userId, now + timeoutMs);
    return !was;
  }
  const had = map.delete(userId);
  return had && was;
}

/** Drops every expired entry; returns whether any was dropped. */
export function expireTyping(map: TypingMap, now: number): boolean {
  let changed = false;
  for (const [u, until] of map) {
    if (until <= now) {
      map.delete(u);
      changed = true;
    }
  }
  return changed;
}

/** The earliest expiry still pending, or null. */
export function nextTypingExpiry(map: TypingMap): number | null {
  let next: number | null = null;
  for (const until of map.values()) if (next === null || until < next) next = until;
  return next;
}

/** The users typing at `now`, sorted so equal sets compare equal. */
export function typingUsers(map: TypingMap, now: number): string[] {
  return [...map].filter(([, until]) => until > now).map(([u]) => u).sort();
}

/** The `m.typing` ephemeral event: the complete list, which clients use to REPLACE what they knew. */
export function typingEvent(userIds: readonly string[]): JsonObject {
  return { type: "m.typing", content: { user_ids: [...userIds] } };
}
