/**
 * The space hierarchy over federation (server-server-api "Spaces":
 * `GET /_matrix/federation/v1/hierarchy/{roomId}`, space_hierarchy.yaml): the
 * answer's shape, checking another server's answer, and which rooms it describes
 * a user may see.
 *
 * The answer is `{room, children, inaccessible_children}`: the space's summary
 * with its `children_state`, the summaries (without children) of the children the
 * answering server is in and the requesting server may peek or join, and the ids
 * of those it may not ("should not be re-requested"). Another server's answer is
 * checked as Synapse's `FederationClient.get_room_hierarchy` does: `room` must be
 * the room asked for, `children_state` valid stripped `m.space.child` events;
 * entries that are not room summaries are dropped. Summaries are kept to the
 * fields of the spec's RoomSummary (definitions/room_summary.yaml), so nothing
 * else another server sends reaches our clients.
 *
 * Pure: no Workers APIs.
 */
import { z } from "zod";
import { isValidRoomId } from "./identifiers.js";
import type { JsonObject } from "./json.js";
import { JsonObjectSchema } from "./json.js";
import type { ChildEvent } from "./space-hierarchy.js";

/** Children a server lists per space (Synapse's MAX_ROOMS_PER_SPACE). */
export const MAX_CHILDREN_PER_SPACE = 50;

const RoomId = z.string().refine((id) => isValidRoomId(id), "not a room id");

/** A RoomSummary (definitions/room_summary.yaml, public_rooms_chunk.yaml): unknown keys are dropped. */
const RoomSummarySchema = z.object({
  room_id: RoomId,
  num_joined_members: z.number().int().nonnegative(),
  world_readable: z.boolean(),
  guest_can_join: z.boolean(),
  name: z.string().optional(),
  topic: z.string().optional(),
  canonical_alias: z.string().optional(),
  avatar_url: z.string().optional(),
  join_rule: z.string().optional(),
  room_type: z.string().optional(),
  room_version: z.string().optional(),
  encryption: z.string().optional(),
  allowed_room_ids: z.array(RoomId).optional(),
});
export type RemoteRoomSummary = z.infer<typeof RoomSummarySchema>;

/** A stripped `m.space.child` event with `origin_server_ts` (SpaceHierarchyParentRoom's children_state). */
const ChildStateSchema = z.object({
  type: z.string(),
  state_key: z.string(),
  content: JsonObjectSchema.refine((c) => Array.isArray(c.via) && c.via.every((v) => typeof v === "string"), "via must be a list of strings"),
  sender: z.string(),
  origin_server_ts: z.number().int(),
});

const AnswerSchema = z.object({
  room: JsonObjectSchema,
  children: z.array(z.unknown()).default([]),
  inaccessible_children: z.array(z.string()).default([]),
});

/** Another server's answer about a space, checked. */
export interface RemoteHierarchy {
  room: RemoteRoomSummary;
  childrenState: ChildEvent[];
  /** Summaries of its children the answering server described, by room id. */
  children: Map<string, RemoteRoomSummary>;
  /** Children the requesting server has no way to peek or join: not to be asked about again. */
  inaccessible: string[];
}

export type RemoteHierarchyCheck = { ok: true; value: RemoteHierarchy } | { ok: false; error: string };

/** Checks another server's 200 answer to `GET /hierarchy/{roomId}`. */
export function parseRemoteHierarchy(body: unknown, roomId: string): RemoteHierarchyCheck {
  const answer = AnswerSchema.safeParse(body);
  if (!answer.success) return { ok: false, error: `malformed hierarchy answer: ${answer.error.issues[0]?.message ?? "invalid"}` };
  const { children_state: childrenState = [], ...summary } = answer.data.room;
  const room = RoomSummarySchema.safeParse(summary);
  if (!room.success) return { ok: false, error: "the answer's room is not a room summary" };
  if (room.data.room_id !== roomId) return { ok: false, error: `the answer describes ${room.data.room_id}, not ${roomId}` };
  const events = z.array(ChildStateSchema).safeParse(childrenState);
  if (!events.success) return { ok: false, error: "the answer's children_state holds an invalid event" };
  const children = new Map<string, RemoteRoomSummary>();
  for (const c of answer.data.children) {
    const parsed = RoomSummarySchema.safeParse(c);
    if (parsed.success && parsed.data.room_id !== roomId) children.set(parsed.data.room_id, parsed.data);
  }
  return { ok: true, value: { room: room.data, childrenState: events.data, children, inaccessible: answer.data.inaccessible_children } };
}

/**
 * Whether anyone may see a room another server described: a public or knock join
 * rule (missing counts as public; the summary may not name its version, so a knock
 * rule is taken as valid), or world-readable history. Else it depends on the user
 * (Synapse's `_is_remote_room_accessible`: membership of an `allowed_room_ids` room,
 * or their own membership or invite here).
 */
export function openToAnyone(summary: RemoteRoomSummary): boolean {
  const rule = summary.join_rule ?? "public";
  return rule === "public" || rule === "knock" || rule === "knock_restricted" || summary.world_readable;
}

/** A summary as a JSON object (the walk's and the client's form). */
export function summaryJson(summary: RemoteRoomSummary): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(summary)) if (v !== undefined) out[k] = v;
  return out;
}

/** Our answer to `GET /hierarchy/{roomId}`. */
export function hierarchyAnswer(room: JsonObject, childrenState: JsonObject[], children: JsonObject[], inaccessible: string[]): JsonObject {
  return { room: { ...room, children_state: childrenState }, children, inaccessible_children: inaccessible };
}
