/**
 * The `filter` query parameter of /messages and /context: a RoomEventFilter as
 * JSON (client-server-api "Filtering"), and matching it against stored events.
 */
import { MatrixError } from "./errors.js";
import { type RoomEventFilter, RoomEventFilterSchema, eventMatches } from "./filter.js";
import type { JsonObject } from "./json.js";
import { assertJsonLimits } from "./json-limits.js";

export function parseRoomEventFilter(param: string | undefined): RoomEventFilter | undefined {
  if (param === undefined || param === "") return undefined;
  let json: unknown;
  try {
    json = JSON.parse(param);
  } catch {
    throw new MatrixError("M_NOT_JSON", "filter is not valid JSON", 400);
  }
  assertJsonLimits(json, "filter");
  const parsed = RoomEventFilterSchema.safeParse(json);
  if (!parsed.success) throw new MatrixError("M_BAD_JSON", "filter is not a valid RoomEventFilter", 400);
  return parsed.data;
}

/** Whether the filter restricts events at all (lazy_load_members alone does not). */
export function filtersEvents(f: RoomEventFilter | undefined): f is RoomEventFilter {
  return !!f && (f.types !== undefined || f.not_types !== undefined || f.senders !== undefined || f.not_senders !== undefined ||
    f.rooms !== undefined || f.not_rooms !== undefined || f.contains_url !== undefined);
}

/** A stored event as type, sender, room and (parsed only when `contains_url` needs it) content. */
export interface StoredEventLike {
  type: string;
  sender: string;
  room_id: string;
  json: string;
}

export function storedEventMatches(f: RoomEventFilter | undefined, row: StoredEventLike): boolean {
  if (!filtersEvents(f)) return true;
  const content = f.contains_url !== undefined ? ((JSON.parse(row.json) as JsonObject).content as JsonObject | undefined) : undefined;
  return eventMatches(f, { type: row.type, sender: row.sender, room_id: row.room_id, ...(content ? { content } : {}) });
}
