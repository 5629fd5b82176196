/**
 * Rules for the localpart of a newly registered user (appendices "User
 * Identifiers": only a-z 0-9 . _ = - / +, lower case; the whole id at most 255
 * bytes). As in Synapse, a leading `_` is kept for application services and
 * all-digit localparts for guests.
 */
export type UsernameCheck = { ok: true; localpart: string } | { ok: false; reason: string };

export function checkNewLocalpart(raw: string, serverName: string, opts: { guest?: boolean } = {}): UsernameCheck {
  const localpart = raw.startsWith("@") ? raw.slice(1).split(":")[0]! : raw;
  if (localpart.length === 0) return { ok: false, reason: "User ID cannot be empty" };
  if (localpart !== localpart.toLowerCase()) return { ok: false, reason: "User ID must be lower case" };
  if (!/^[a-z0-9._=\-/+]+$/.test(localpart)) {
    return { ok: false, reason: "User ID can only contain characters a-z, 0-9, or '=_-./+'" };
  }
  if (localpart.startsWith("_")) return { ok: false, reason: "User ID may not begin with _" };
  if (!opts.guest && /^\d+$/.test(localpart)) return { ok: false, reason: "Numeric user IDs are reserved for guest users" };
  if (new TextEncoder().encode(`@${localpart}:${serverName}`).length > 255) {
    return { ok: false, reason: "User ID may not be longer than 255 characters" };
  }
  return { ok: true, localpart };
}
