/**
 * Who an access token belonged to when this isolate last authenticated it: a
 * guess that lets a request start its first reads beside the token check, in the
 * same D1 round trip (workers/routes/sync.ts). Never an authorization: the check
 * still runs, and what was read under the guess is used only if the check names
 * the same user. A token's user never changes, so a hint can only be stale by the
 * token having been revoked, which the check then refuses; nothing to invalidate.
 */
const MAX_HINTS = 10_000;
const hints = new Map<string, string>();

export function rememberTokenUser(tokenHash: string, userId: string): void {
  if (hints.get(tokenHash) === userId) return;
  if (hints.size >= MAX_HINTS) hints.delete(hints.keys().next().value!);
  hints.set(tokenHash, userId);
}

/** The user the token named when last checked here, if it was. */
export function tokenUserHint(tokenHash: string): string | undefined {
  return hints.get(tokenHash);
}
