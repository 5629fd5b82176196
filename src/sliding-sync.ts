/**
 * Simplified sliding sync (MSC4186) as clients really speak it: the unstable
 * `org.matrix.simplified_msc3575` request shape (lists with `ranges`, room
 * subscriptions, `required_state` pairs with `*`, `$LAZY` and `$ME`, extensions),
 * and the pure rules of the protocol: which rooms a list's ranges select, which
 * state events a `required_state` asks for, what bumps a room.
 *
 * Pure: no Workers APIs.
 */
import { z } from "zod";

/** Bounds that keep one request's work finite (Synapse has none; absurd values get M_INVALID_PARAM). */
export const MAX_LISTS = 100;
export const MAX_RANGES = 100;
export const MAX_TIMELINE_LIMIT = 1000;
export const MAX_REQUIRED_STATE = 1000;
export const MAX_SUBSCRIPTIONS = 1000;
export const MAX_ROOM_INDEX = 1_000_000;

const invalid = (message: string) => ({ message, params: { errcode: "M_INVALID_PARAM" as const } });

// Bounds are refinements (not .max) so that they can name their errcode: out of range is M_INVALID_PARAM.
const RequiredState = z.array(z.tuple([z.string(), z.string()])).refine((a) => a.length <= MAX_REQUIRED_STATE, invalid(`at most ${MAX_REQUIRED_STATE} required_state pairs`));
const TimelineLimit = z.number().int().min(0).refine((n) => n <= MAX_TIMELINE_LIMIT, invalid(`timeline_limit at most ${MAX_TIMELINE_LIMIT}`));
const RoomIndex = z.number().int().min(0).refine((n) => n <= MAX_ROOM_INDEX, invalid(`room indexes end at ${MAX_ROOM_INDEX}`));

export const RoomConfigSchema = z.looseObject({
  timeline_limit: TimelineLimit.optional(),
  required_state: RequiredState.optional(),
});

const Range = z
  .tuple([RoomIndex, RoomIndex])
  .refine(([a, b]) => a <= b, invalid("a range's start must not be after its end"));

export const ListFiltersSchema = z.looseObject({
  is_dm: z.boolean().optional(),
  is_encrypted: z.boolean().optional(),
  is_invite: z.boolean().optional(),
  /** Room types to include; `null` stands for rooms without a type. */
  room_types: z.array(z.string().nullable()).optional(),
  not_room_types: z.array(z.string().nullable()).optional(),
});

export const ListSchema = RoomConfigSchema.extend({
  ranges: z.array(Range).refine((r) => r.length <= MAX_RANGES, invalid(`at most ${MAX_RANGES} ranges`)).optional(),
  filters: ListFiltersSchema.optional(),
});

const ExtensionToggle = z.looseObject({
  enabled: z.boolean().optional(),
  lists: z.array(z.string()).optional(),
  rooms: z.array(z.string()).optional(),
});

export const SlidingSyncRequestSchema = z.looseObject({
  conn_id: z.string().refine((c) => c.length <= 16, invalid("conn_id is at most 16 characters")).optional(),
  txn_id: z.string().optional(),
  lists: z
    .record(z.string(), ListSchema)
    .refine((l) => Object.keys(l).length <= MAX_LISTS, invalid(`at most ${MAX_LISTS} lists`))
    .optional(),
  room_subscriptions: z
    .record(z.string(), RoomConfigSchema)
    .refine((s) => Object.keys(s).length <= MAX_SUBSCRIPTIONS, invalid(`at most ${MAX_SUBSCRIPTIONS} room subscriptions`))
    .optional(),
  extensions: z
    .looseObject({
      to_device: ExtensionToggle.extend({ since: z.string().optional(), limit: z.number().int().min(1).optional() }).optional(),
      e2ee: ExtensionToggle.optional(),
      account_data: ExtensionToggle.optional(),
      receipts: ExtensionToggle.optional(),
      typing: ExtensionToggle.optional(),
    })
    .optional(),
});

export type SlidingSyncRequest = z.output<typeof SlidingSyncRequestSchema>;
export type RoomConfig = z.output<typeof RoomConfigSchema>;
export type ListConfig = z.output<typeof ListSchema>;
export type ListFilters = z.output<typeof ListFiltersSchema>;

/**
 * One room of a user as lists rank and filter it (workers/sliding-sync/room-list.ts);
 * kept per connection. What a response shows of a room (name, avatar, counts) is
 * read for the rooms it sends only.
 */
export interface ListedRoom {
  roomId: string;
  membership: string;
  /** Stream position of the user's membership event. */
  memberPos: number;
  /** Who sent an invite (its inviter may be ignored); null for other memberships. */
  memberSender: string | null;
  roomType: string | null;
  encrypted: boolean;
  isDm: boolean;
  /** Latest event of the room (or the membership, if not joined): what a delta is measured against. */
  lastPos: number;
  /** MSC4186 bump_stamp: the latest bump event for joined rooms, the membership change otherwise. */
  bump: number;
}

type EncodedRoom = [string, string, number, string | null, string | null, boolean, boolean, number, number];

/**
 * A connection's kept room list as one string: each room a JSON array in field
 * order, and one string to hand to the User Durable Object and back (cheaper
 * than a thousand objects, both ways). Field by field, not through a list of
 * names: this runs over every room of the user.
 */
export function encodeRoomList(rooms: ListedRoom[]): string {
  return JSON.stringify(rooms.map((r): EncodedRoom => [r.roomId, r.membership, r.memberPos, r.memberSender, r.roomType, r.encrypted, r.isDm, r.lastPos, r.bump]));
}

/** The list encodeRoomList wrote, or null when it is not one (kept by an older version): the caller reads it afresh. */
export function decodeRoomList(text: string): ListedRoom[] | null {
  let rows: unknown;
  try {
    rows = JSON.parse(text);
  } catch {
    return null;
  }
  if (!Array.isArray(rows) || !rows.every((r) => Array.isArray(r) && r.length === 9)) return null;
  return (rows as EncodedRoom[]).map((r) => ({
    roomId: r[0], membership: r[1], memberPos: r[2], memberSender: r[3], roomType: r[4], encrypted: r[5], isDm: r[6], lastPos: r[7], bump: r[8],
  }));
}

/** Events that move a room up the list (MSC4186 `bump_stamp`). */
export const BUMP_EVENT_TYPES = ["m.room.create", "m.room.message", "m.room.encrypted", "m.sticker", "m.call.invite", "m.poll.start", "m.beacon_info"];

/** The room indexes a list's ranges select, in order, without repeats, within `count`. */
export function selectedIndexes(ranges: Array<[number, number]> | undefined, count: number): number[] {
  const seen = new Set<number>();
  const out: number[] = [];
  for (const [a, b] of ranges ?? []) {
    for (let i = a; i <= Math.min(b, count - 1); i++) {
      if (seen.has(i)) continue;
      seen.add(i);
      out.push(i);
    }
  }
  return out;
}

/** What a room is sent with when several lists and a subscription select it: the largest timeline, every requested state pair. */
export interface EffectiveConfig {
  timelineLimit: number;
  requiredState: Array<[string, string]>;
}

export function mergeConfigs(configs: RoomConfig[]): EffectiveConfig {
  let timelineLimit = 0;
  const pairs = new Map<string, [string, string]>();
  for (const c of configs) {
    timelineLimit = Math.max(timelineLimit, c.timeline_limit ?? 0);
    for (const [t, k] of c.required_state ?? []) pairs.set(`${t}\u0000${k}`, [t, k]);
  }
  return { timelineLimit, requiredState: [...pairs.values()].sort((a, b) => (a[0] + "\u0000" + a[1] < b[0] + "\u0000" + b[1] ? -1 : 1)) };
}

/** A stable key for comparing configs between responses. */
export function configKey(c: EffectiveConfig): string {
  return JSON.stringify([c.timelineLimit, c.requiredState]);
}

/** The config a `configKey` was made from (null if it is not one). */
export function parseConfigKey(key: string): EffectiveConfig | null {
  try {
    const v = JSON.parse(key) as unknown;
    if (!Array.isArray(v) || typeof v[0] !== "number" || !Array.isArray(v[1])) return null;
    const pairs = (v[1] as unknown[]).filter((p): p is [string, string] => Array.isArray(p) && typeof p[0] === "string" && typeof p[1] === "string");
    return { timelineLimit: v[0], requiredState: pairs };
  } catch {
    return null;
  }
}

/**
 * Whether `required_state` asks for the state event (type, stateKey).
 * `["*","*"]` everything; `[type,"*"]` every key of a type; `["*",key]` that key of
 * every type; `["m.room.member","$LAZY"]` members who sent timeline events
 * (`lazySenders`); `$ME` the user's own id as state key.
 */
export function wantsState(required: Array<[string, string]>, type: string, stateKey: string, me: string, lazySenders: ReadonlySet<string>): boolean {
  for (const [t, k] of required) {
    if (t !== "*" && t !== type) continue;
    if (k === "*") return true;
    if (k === "$ME" && stateKey === me) return true;
    if (k === "$LAZY" && type === "m.room.member" && lazySenders.has(stateKey)) return true;
    if (k === stateKey) return true;
  }
  return false;
}

/** Whether the room-level filters keep a room (MSC4186 "Filters"; all given filters must match). */
export function matchesFilters(
  f: ListFilters | undefined,
  room: { isDm: boolean; isEncrypted: boolean; isInvite: boolean; roomType: string | null },
): boolean {
  if (!f) return true;
  if (f.is_dm !== undefined && f.is_dm !== room.isDm) return false;
  if (f.is_encrypted !== undefined && f.is_encrypted !== room.isEncrypted) return false;
  if (f.is_invite !== undefined && f.is_invite !== room.isInvite) return false;
  if (f.room_types && !f.room_types.includes(room.roomType)) return false;
  if (f.not_room_types && f.not_room_types.includes(room.roomType)) return false;
  return true;
}

/**
 * `pos`: the connection's position, opaque to clients. `<nonce>.<n>`: the nonce
 * names one life of the connection (a connection forgotten and started again
 * never accepts an old pos), `n` counts its responses.
 */
export function formatPos(nonce: string, n: number): string {
  return `${nonce}.${n}`;
}

export function parsePos(pos: string): { nonce: string; n: number } | null {
  const m = /^([A-Za-z0-9_-]{1,32})\.(\d{1,15})$/.exec(pos);
  return m ? { nonce: m[1]!, n: Number(m[2]) } : null;
}
