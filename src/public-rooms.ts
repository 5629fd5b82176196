/**
 * Paging the published room directory (list_public_rooms.yaml, GET/POST /publicRooms).
 *
 * Rooms are ordered largest first by joined members, room id descending as the
 * tie-break (the order the spec recommended before v1.19, and Synapse's). Tokens are
 * keyset bounds — the member count and room id of the room a page ended at, and a
 * direction — so pages stay stable while rooms are published and members come and go:
 * `next_batch` continues after the last room of a page, `prev_batch` goes back from
 * the first. Both are opaque to clients.
 *
 * Pure: no Workers APIs.
 */
import { decodeBase64Url, encodeBase64Url } from "./base64.js";
import { MatrixError } from "./errors.js";

/** Synapse's MAX_PUBLIC_ROOMS_IN_RESPONSE: the largest page, also what `limit` 0 or absent means. */
export const MAX_PUBLIC_ROOMS_PAGE = 100;

export interface DirectoryBound {
  members: number;
  roomId: string;
  /** true: rooms after the bound (next_batch); false: rooms before it (prev_batch). */
  forward: boolean;
}

export function encodeDirectoryToken(b: DirectoryBound): string {
  return encodeBase64Url(new TextEncoder().encode(JSON.stringify([b.forward ? 1 : 0, b.members, b.roomId])));
}

export function decodeDirectoryToken(token: string): DirectoryBound {
  const bad = () => new MatrixError("M_INVALID_PARAM", "Invalid pagination token", 400);
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(decodeBase64Url(token)));
  } catch {
    throw bad();
  }
  if (!Array.isArray(v) || v.length !== 3) throw bad();
  const [d, m, r] = v as unknown[];
  if ((d !== 0 && d !== 1) || typeof m !== "number" || !Number.isSafeInteger(m) || m < 0 || typeof r !== "string") throw bad();
  return { forward: d === 1, members: m, roomId: r };
}

/** `limit` as Synapse reads it: 0 or absent means "no limit", which the server caps. */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined || limit === 0) return MAX_PUBLIC_ROOMS_PAGE;
  if (!Number.isSafeInteger(limit) || limit < 0) throw new MatrixError("M_INVALID_PARAM", "limit must be a non-negative integer", 400);
  return Math.min(limit, MAX_PUBLIC_ROOMS_PAGE);
}

export interface DirectoryRoom {
  room_id: string;
  joined_members: number;
}

/**
 * Turns one probe of up to `limit + 1` rooms, read in the bound's direction (largest
 * first going forward, smallest first going back), into a page in largest-first order
 * with its tokens.
 */
export function directoryPage<T extends DirectoryRoom>(
  probe: T[],
  limit: number,
  bound: DirectoryBound | undefined,
): { rooms: T[]; next_batch?: string; prev_batch?: string } {
  const forward = bound?.forward ?? true;
  const more = probe.length > limit;
  const taken = probe.slice(0, limit);
  const rooms = forward ? taken : taken.reverse();
  const first = rooms[0];
  const last = rooms[rooms.length - 1];
  const token = (r: DirectoryRoom, fwd: boolean) => encodeDirectoryToken({ members: r.joined_members, roomId: r.room_id, forward: fwd });
  const out: { rooms: T[]; next_batch?: string; prev_batch?: string } = { rooms };
  if (forward) {
    if (more && last) out.next_batch = token(last, true);
    // A page reached through a token has rooms before it.
    if (bound) out.prev_batch = first ? token(first, false) : encodeDirectoryToken({ members: 0, roomId: "", forward: false });
  } else {
    if (more && first) out.prev_batch = token(first, false);
    // Going back, the rooms the token came from are always after this page.
    out.next_batch = last
      ? token(last, true)
      : encodeDirectoryToken({ members: Number.MAX_SAFE_INTEGER, roomId: "", forward: true });
  }
  return out;
}

/**
 * The SQL keyset condition for a bound over columns `members` and `roomId`, with its
 * parameters, and the ORDER BY that reads rooms in the bound's direction. A row-value
 * comparison, so SQLite walks an index on (members, roomId) in order instead of sorting.
 */
export function boundClause(bound: DirectoryBound | undefined, members: string, roomId: string): { where: string; params: (string | number)[]; order: string } {
  if (!bound) return { where: "1", params: [], order: `${members} DESC, ${roomId} DESC` };
  if (bound.forward) return { where: `(${members}, ${roomId}) < (?, ?)`, params: [bound.members, bound.roomId], order: `${members} DESC, ${roomId} DESC` };
  return { where: `(${members}, ${roomId}) > (?, ?)`, params: [bound.members, bound.roomId], order: `${members} ASC, ${roomId} ASC` };
}
