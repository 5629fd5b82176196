/**
 * Walking a space tree (client-server-api "Spaces"; space_hierarchy.yaml): which
 * `m.space.child` events count, their order, and the depth-first walk behind
 * `GET /rooms/{roomId}/hierarchy`, resumable between pages.
 *
 * As Synapse's `_get_room_hierarchy`: the walk keeps a stack of rooms still to visit
 * (the next one last); each visited room is marked processed, so loops and rooms
 * reachable along several paths are shown once; a room the user may not see is
 * left out with its subtree; a space's children are pushed in reverse order so they
 * are visited in the spec's order, depth first. Each entry keeps the child event's
 * `via` (its first few servers), which the source asks for rooms this server is not
 * in ("Where a child room is unknown to the local server, federation is used to fill
 * in the details. The servers listed in the `via` array should be contacted").
 *
 * Pure: rooms are looked up through a `HierarchySource`.
 */
import { MatrixError } from "./errors.js";
import { isJsonObject, type JsonObject, type JsonValue } from "./json.js";

export const SPACE_ROOM_TYPE = "m.space";

/** `suggested_only` of both hierarchy endpoints: absent is false; anything but true/false is 400 M_INVALID_PARAM. */
export function parseSuggestedOnly(value: string | undefined): boolean {
  if (value === undefined || value === "false") return false;
  if (value === "true") return true;
  throw new MatrixError("M_INVALID_PARAM", "'suggested_only' must be true or false", 400);
}

export interface ChildEvent {
  type: string;
  state_key: string;
  content: JsonObject;
  sender: string;
  origin_server_ts: number;
}

/** A child link counts only with a non-empty `via` of strings (spec: a removed child has no `via`). */
export function hasValidVia(ev: ChildEvent): boolean {
  const via = ev.content.via;
  return Array.isArray(via) && via.length > 0 && via.every((v) => typeof v === "string");
}

export function isSuggested(ev: ChildEvent): boolean {
  return ev.content.suggested === true;
}

/** `order` counts only if it is a string of at most 50 characters in \x20–\x7E (m.space.child). */
function validOrder(v: JsonValue | undefined): string | undefined {
  return typeof v === "string" && v.length <= 50 && /^[\x20-\x7E]*$/.test(v) ? v : undefined;
}

function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * "Ordering of children within a space": valid `order` first, lexicographically by
 * code point; then by the child event's `origin_server_ts`; then by room id.
 */
export function compareChildren(a: ChildEvent, b: ChildEvent): number {
  const oa = validOrder(a.content.order);
  const ob = validOrder(b.content.order);
  if (oa !== undefined && ob === undefined) return -1;
  if (oa === undefined && ob !== undefined) return 1;
  if (oa !== undefined && ob !== undefined && oa !== ob) return compareCodePoints(oa, ob);
  if (a.origin_server_ts !== b.origin_server_ts) return a.origin_server_ts - b.origin_server_ts;
  return compareCodePoints(a.state_key, b.state_key);
}

/** The child events a space shows: valid, suggested if asked, in order. */
export function spaceChildren(events: ChildEvent[], suggestedOnly: boolean): ChildEvent[] {
  return events.filter((e) => e.type === "m.space.child" && hasValidVia(e) && (!suggestedOnly || isSuggested(e))).sort(compareChildren);
}

/** A child event as `children_state` shows it: stripped state plus `origin_server_ts`. */
export function strippedChild(ev: ChildEvent): JsonObject {
  return { type: ev.type, state_key: ev.state_key, content: ev.content, sender: ev.sender, origin_server_ts: ev.origin_server_ts };
}

/** Servers of a child's `via` kept for asking about it (Synapse's MAX_SERVERS_PER_SPACE). */
export const MAX_VIA = 3;

/** The first servers of a child event's `via` (hasValidVia holds for the children walked). */
export function viaOf(ev: ChildEvent): string[] {
  const via = ev.content.via;
  return Array.isArray(via) ? via.filter((v): v is string => typeof v === "string").slice(0, MAX_VIA) : [];
}

/** What the walk knows about a room it is about to visit. */
export interface VisitContext {
  /** Servers to ask if this server is not in the room: the child event's `via` (for the root, what the caller knows). */
  via: string[];
  /** Whether its children will be walked (its depth is below the maximum). */
  wantChildren: boolean;
}

export interface HierarchySource {
  /** The room's summary if the user may see it; undefined if it is unknown (here and via its servers) or hidden from them. */
  room(roomId: string, ctx: VisitContext): Promise<JsonObject | undefined>;
  /** The space's current `m.space.child` state events (any order, unfiltered), after room() showed it. */
  children(roomId: string): Promise<ChildEvent[]>;
  /** Optional hint: these rooms are about to be visited (lets a source batch its reads). */
  prefetch?(roomIds: string[]): Promise<void>;
  /** Optional: true once the source should not be asked more this page (its federation budget is spent); the rest waits for the next page. */
  exhausted?(): boolean;
}

/** A room still to visit: its id, its depth below the root, and the servers to ask about it. */
export type QueueEntry = [roomId: string, depth: number, via?: string[]];

export interface WalkState {
  /** Rooms still to visit; the next one last. */
  queue: QueueEntry[];
  /** Rooms already visited (shown or not). */
  processed: string[];
}

export interface WalkOptions {
  /** Most rooms to return. */
  limit: number;
  /** Children deeper than this are not visited (0: just the root). */
  maxDepth: number;
  suggestedOnly: boolean;
  /** Most rooms to visit in one call, shown or not, so a page's cost is bounded. */
  budget: number;
}

export function initialWalk(rootId: string, via: string[] = []): WalkState {
  return { queue: [via.length ? [rootId, 0, via] : [rootId, 0]], processed: [] };
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === "string");

export function isWalkState(v: unknown): v is WalkState {
  if (!isJsonObject(v)) return false;
  const { queue, processed } = v;
  return (
    Array.isArray(queue) &&
    queue.every((q) => Array.isArray(q) && (q.length === 2 || (q.length === 3 && isStrings(q[2]))) && typeof q[0] === "string" && typeof q[1] === "number") &&
    Array.isArray(processed) &&
    processed.every((p) => typeof p === "string")
  );
}

/** One page of the walk; `state` is undefined when nothing is left to visit. */
export async function walkHierarchy(
  source: HierarchySource,
  start: WalkState,
  opts: WalkOptions,
): Promise<{ rooms: JsonObject[]; state: WalkState | undefined }> {
  const queue: QueueEntry[] = start.queue.map((q) => [...q]);
  const processed = new Set(start.processed);
  const rooms: JsonObject[] = [];
  let visited = 0;
  while (queue.length && rooms.length < opts.limit && visited < opts.budget && !source.exhausted?.()) {
    const [roomId, depth, via = []] = queue.pop()!;
    if (processed.has(roomId)) continue;
    processed.add(roomId);
    visited++;
    const summary = await source.room(roomId, { via, wantChildren: depth < opts.maxDepth });
    if (!summary) continue;
    const children = summary.room_type === SPACE_ROOM_TYPE ? spaceChildren(await source.children(roomId), opts.suggestedOnly) : [];
    rooms.push({ ...summary, children_state: children.map(strippedChild) });
    if (depth < opts.maxDepth && children.length) {
      const next = children.filter((c) => !processed.has(c.state_key));
      if (source.prefetch && next.length) await source.prefetch(next.map((c) => c.state_key));
      for (let i = next.length - 1; i >= 0; i--) queue.push([next[i]!.state_key, depth + 1, viaOf(next[i]!)]);
    }
  }
  // Entries for rooms already processed need not be carried over.
  const left = queue.filter(([r]) => !processed.has(r));
  return { rooms, state: left.length ? { queue: left, processed: [...processed] } : undefined };
}
