/**
 * Bundled aggregations of child events (client-server-api "Aggregations of
 * child events"): which child events count and how they are summarised under
 * `unsigned["m.relations"]` of the parent.
 *
 * - `m.replace` ("Server-side aggregation of m.replace relationships", v1.7):
 *   the most recent valid replacement, as a whole event; never bundled with a
 *   redacted original.
 * - `m.thread` ("Server-side aggregation of m.thread relationships"):
 *   `{latest_event, count, current_user_participated}`.
 * - `m.reference` ("Server-side aggregation of m.reference"): `{chunk: [{event_id}]}`.
 *
 * State events do not receive bundled aggregations.
 */
import type { JsonObject } from "./json.js";

function obj(v: unknown): JsonObject | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as JsonObject) : undefined;
}

/** `content["m.relates_to"]` of an event as {rel_type, event_id}, if well formed. */
export function relationOf(ev: JsonObject): { relType: string; eventId: string } | undefined {
  const rel = obj(obj(ev.content)?.["m.relates_to"]);
  if (!rel || typeof rel.rel_type !== "string" || typeof rel.event_id !== "string") return undefined;
  return { relType: rel.rel_type, eventId: rel.event_id };
}

export function isRedacted(ev: JsonObject): boolean {
  return obj(ev.unsigned)?.redacted_because !== undefined;
}

/** Whether an event can carry bundled aggregations at all. */
export function canBundle(ev: JsonObject): boolean {
  return typeof ev.event_id === "string" && ev.state_key === undefined;
}

/** Spec "Validity of replacement events". */
export function isValidReplacement(original: JsonObject, edit: JsonObject): boolean {
  const rel = relationOf(edit);
  if (!rel || rel.relType !== "m.replace" || rel.eventId !== original.event_id) return false;
  if (edit.room_id !== original.room_id || edit.sender !== original.sender || edit.type !== original.type) return false;
  if (original.state_key !== undefined || edit.state_key !== undefined) return false;
  if (relationOf(original)?.relType === "m.replace") return false;
  if (isRedacted(edit)) return false;
  // Encrypted edits carry m.new_content inside the ciphertext.
  if (edit.type !== "m.room.encrypted" && obj(obj(edit.content)?.["m.new_content"]) === undefined) return false;
  return true;
}

/** Most recent first: by origin_server_ts, ties broken by the lexicographically largest event id. */
export function compareReplacements(a: JsonObject, b: JsonObject): number {
  const ta = typeof a.origin_server_ts === "number" ? a.origin_server_ts : 0;
  const tb = typeof b.origin_server_ts === "number" ? b.origin_server_ts : 0;
  if (ta !== tb) return tb - ta;
  const ia = String(a.event_id);
  const ib = String(b.event_id);
  return ia < ib ? 1 : ia > ib ? -1 : 0;
}

/** The edit to bundle with `original`, or none (also none when the original is redacted). */
export function latestReplacement(original: JsonObject, candidates: JsonObject[]): JsonObject | undefined {
  if (isRedacted(original)) return undefined;
  return candidates.filter((c) => isValidReplacement(original, c)).sort(compareReplacements)[0];
}

export interface ThreadSummary {
  latest: JsonObject;
  count: number;
  /** The user sent an m.thread child (the root's sender is checked here). */
  participated: boolean;
}

export interface Children {
  /** Candidate replacements per parent event id. */
  edits: Map<string, JsonObject[]>;
  threads: Map<string, ThreadSummary>;
  references: Map<string, string[]>;
}

/** `unsigned["m.relations"]` for one served event, or undefined if there is nothing to bundle. */
export function bundledRelations(ev: JsonObject, userId: string, children: Children): JsonObject | undefined {
  if (!canBundle(ev)) return undefined;
  const id = ev.event_id as string;
  const out: JsonObject = {};
  const edit = latestReplacement(ev, children.edits.get(id) ?? []);
  if (edit) out["m.replace"] = edit;
  const thread = children.threads.get(id);
  if (thread && thread.count > 0) {
    out["m.thread"] = {
      latest_event: thread.latest,
      count: thread.count,
      current_user_participated: thread.participated || ev.sender === userId,
    };
  }
  const refs = children.references.get(id);
  if (refs?.length) out["m.reference"] = { chunk: refs.map((event_id) => ({ event_id })) };
  return Object.keys(out).length ? out : undefined;
}
