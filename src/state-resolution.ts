/**
 * Matrix state resolution (spec: rooms/v1 "State resolution",
 * rooms/fragments/v2-state-res.md, and the v12 revision "v2.1", MSC4297).
 *
 * Pure and synchronous: every event the algorithm needs is read through an
 * injected {@link StateResolutionStore}, which the caller (a Durable Object)
 * preloads. State maps are keyed by `stateKey(type, state_key)` and hold event
 * ids; event ids are always the ids the caller uses to reference events (the
 * store's keys, `auth_events` entries and state map values), never recomputed.
 *
 * Authorisation is delegated to `checkEventAuth` (src/auth-rules.ts); this
 * module implements only the resolution algorithm itself.
 */
import { sha1 } from "@noble/hashes/legacy.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { type AuthOptions, authTypesForEvent, checkEventAuth } from "./auth-rules.js";
import type { Pdu, StateMap } from "./pdu.js";
import { authEventIds, stateKey } from "./pdu.js";
import { userPowerLevel } from "./power-levels.js";
import type { RoomVersion } from "./room-versions.js";

/** Where state resolution reads events from. Synchronous: the caller preloads. */
export interface StateResolutionStore {
  /** The event with this id, or undefined if it is not available (it is then ignored). */
  getEvent(eventId: string): Pdu | undefined;
  /**
   * Whether the event was rejected. Rejected events are never used as auth
   * events during the iterative auth checks (spec: "Rejected events"); they
   * are otherwise handled as usual. Defaults to "not rejected".
   */
  isRejected?(eventId: string): boolean;
}

export interface ResolveStateOptions {
  /**
   * Precomputed full auth chains C_i, one per state set, for the auth difference
   * (v2/v2.1). By default C_i is the union of the auth chains of the events of
   * S_i (the events reachable through `auth_events`, not counting S_i's events
   * themselves unless reachable from another), computed through the store.
   */
  authChainSets?: ReadonlyArray<ReadonlySet<string>>;
  /**
   * The id of the room's `m.room.create` event. By default it is taken from the
   * state sets, else (v12) from the room id, else from the auth chains.
   */
  createEventId?: string;
  /**
   * Passed on to `checkEventAuth` (e.g. `verifyServerSignature`). Its
   * `eventId` hook defaults to the id each event was fetched from the store by.
   */
  authOptions?: AuthOptions;
}

const CREATE = "m.room.create";
const POWER_LEVELS = "m.room.power_levels";
const JOIN_RULES = "m.room.join_rules";
const MEMBER = "m.room.member";
const CREATE_KEY = stateKey(CREATE, "");
const POWER_LEVELS_KEY = stateKey(POWER_LEVELS, "");

/**
 * Resolve a set of room states (each `stateKey -> event id`) into one, with the
 * algorithm of the room version (`version.stateRes`).
 */
export function resolveState(
  version: RoomVersion,
  stateSets: ReadonlyArray<StateMap<string>>,
  store: StateResolutionStore,
  options: ResolveStateOptions = {},
): StateMap<string> {
  if (stateSets.length === 0) return new Map();
  if (stateSets.length === 1) return new Map(stateSets[0]);
  // Remember the id each event was fetched by, for the auth rules' `eventId` hook.
  const ids = new WeakMap<Pdu, string>();
  const tracked: StateResolutionStore = {
    getEvent(eventId) {
      const ev = store.getEvent(eventId);
      if (ev) ids.set(ev, eventId);
      return ev;
    },
    isRejected: (eventId) => isRejected(store, eventId),
  };
  const userEventId = options.authOptions?.eventId;
  const authOptions: AuthOptions = {
    ...options.authOptions,
    eventId: (pdu) => userEventId?.(pdu) ?? ids.get(pdu),
  };
  switch (version.stateRes) {
    case "v1":
      return resolveStateV1(version, stateSets, tracked, options, authOptions);
    case "v2":
    case "v2.1":
      return resolveStateV2(version, stateSets, tracked, options, authOptions);
  }
}

// ---------------------------------------------------------------------------
// Shared helpers

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isRejected(store: StateResolutionStore, eventId: string): boolean {
  return store.isRejected?.(eventId) ?? false;
}

/**
 * A power event: a state event of type `m.room.power_levels` or
 * `m.room.join_rules`, or an `m.room.member` state event with membership
 * `leave` or `ban` whose sender is not its state_key (spec, v2 definitions).
 * As the spec says, `m.room.create` is not one (Synapse and ruma count it;
 * this only matters if the create event itself is in the full conflicted set).
 */
export function isPowerEvent(event: Pdu): boolean {
  if (event.state_key === undefined) return false;
  if (event.type === POWER_LEVELS || event.type === JOIN_RULES) return true;
  if (event.type === MEMBER) {
    const membership = event.content["membership"];
    return (membership === "leave" || membership === "ban") && event.sender !== event.state_key;
  }
  return false;
}

/**
 * The union of the auth chains of the given events: every event reachable by
 * following `auth_events` links (the given events themselves are included
 * only if reachable from another one). Events missing from the store end the
 * walk along their branch (their own id is still included).
 */
export function computeAuthChain(eventIds: Iterable<string>, store: StateResolutionStore): Set<string> {
  const chain = new Set<string>();
  const stack: string[] = [];
  for (const id of eventIds) {
    const ev = store.getEvent(id);
    if (ev) stack.push(...authEventIds(ev));
  }
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (chain.has(id)) continue;
    chain.add(id);
    const ev = store.getEvent(id);
    if (ev) for (const a of authEventIds(ev)) if (!chain.has(a)) stack.push(a);
  }
  return chain;
}

/**
 * Split state sets into the unconflicted state map (keys present in every set
 * with the same value) and the conflicted state set (every other value),
 * grouped by key.
 */
export function splitConflictedState(stateSets: ReadonlyArray<StateMap<string>>): {
  unconflicted: StateMap<string>;
  conflicted: Map<string, Set<string>>;
} {
  const unconflicted: StateMap<string> = new Map();
  const conflicted = new Map<string, Set<string>>();
  const keys = new Set<string>();
  for (const s of stateSets) for (const k of s.keys()) keys.add(k);
  for (const k of keys) {
    const values = new Set<string>();
    let inAll = true;
    for (const s of stateSets) {
      const v = s.get(k);
      if (v === undefined) inAll = false;
      else values.add(v);
    }
    const [only] = values;
    if (inAll && values.size === 1 && only !== undefined) unconflicted.set(k, only);
    else conflicted.set(k, values);
  }
  return { unconflicted, conflicted };
}

/** ∪ C_i − ∩ C_i. */
export function authDifference(authChainSets: ReadonlyArray<ReadonlySet<string>>): Set<string> {
  const counts = new Map<string, number>();
  for (const c of authChainSets) for (const id of c) counts.set(id, (counts.get(id) ?? 0) + 1);
  const diff = new Set<string>();
  for (const [id, n] of counts) if (n < authChainSets.length) diff.add(id);
  return diff;
}

/**
 * The conflicted state subgraph (v2.1): the union of all `auth_events` paths
 * between pairs of events of the conflicted state set, endpoints included.
 * An event is on such a path iff it is reachable from a conflicted event
 * through at least one auth edge and some conflicted event is reachable from
 * it (through zero or more edges); the start of each such path is a
 * conflicted event with an auth path to another conflicted event.
 */
export function conflictedStateSubgraph(
  conflictedEvents: Iterable<string>,
  store: StateResolutionStore,
): Set<string> {
  const conflicted = new Set(conflictedEvents);
  // reaches.get(id): some conflicted event is reachable from id via >= 0 edges.
  const reaches = new Map<string, boolean>();
  const reachesConflicted = (start: string): boolean => {
    const known = reaches.get(start);
    if (known !== undefined) return known;
    // Iterative post-order DFS (auth chains can be deep).
    const stack: Array<{ id: string; children: string[]; i: number; found: boolean }> = [];
    const push = (id: string) => {
      const ev = store.getEvent(id);
      stack.push({ id, children: ev ? authEventIds(ev) : [], i: 0, found: conflicted.has(id) });
      reaches.set(id, false); // provisional (DAG, so never read before final)
    };
    push(start);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.i < top.children.length) {
        const child = top.children[top.i++]!;
        const r = reaches.get(child);
        if (r === undefined) push(child);
        else if (r) top.found = true;
        continue;
      }
      stack.pop();
      reaches.set(top.id, top.found);
      const parent = stack[stack.length - 1];
      if (parent && top.found) parent.found = true;
    }
    return reaches.get(start) ?? false;
  };

  const subgraph = new Set<string>();
  // Walk the auth DAG from the conflicted events; keep every reached event
  // (>= 1 edge) that leads on to a conflicted event, plus the path starts.
  const visited = new Set<string>();
  const stack: string[] = [];
  for (const c of conflicted) {
    const ev = store.getEvent(c);
    if (!ev) continue;
    const auth = authEventIds(ev);
    if (auth.some((a) => reachesConflicted(a))) subgraph.add(c);
    for (const a of auth) stack.push(a);
  }
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (visited.has(id)) continue;
    visited.add(id);
    if (!reachesConflicted(id)) continue; // nothing below leads to a conflicted event either
    subgraph.add(id);
    const ev = store.getEvent(id);
    if (ev) for (const a of authEventIds(ev)) if (!visited.has(a)) stack.push(a);
  }
  return subgraph;
}

/** The room's create event, found as described in {@link ResolveStateOptions.createEventId}. */
function findCreateEvent(
  version: RoomVersion,
  stateSets: ReadonlyArray<StateMap<string>>,
  store: StateResolutionStore,
  options: ResolveStateOptions,
): Pdu {
  const isCreate = (ev: Pdu | undefined): ev is Pdu => ev !== undefined && ev.type === CREATE && ev.state_key === "";
  if (options.createEventId !== undefined) {
    const ev = store.getEvent(options.createEventId);
    if (isCreate(ev)) return ev;
  }
  for (const s of stateSets) {
    const id = s.get(CREATE_KEY);
    const ev = id === undefined ? undefined : store.getEvent(id);
    if (isCreate(ev)) return ev;
  }
  const ids = new Set<string>();
  for (const s of stateSets) for (const id of s.values()) ids.add(id);
  if (version.roomIdFromCreateEvent) {
    for (const id of ids) {
      const roomId = store.getEvent(id)?.room_id;
      if (roomId === undefined) continue;
      const ev = store.getEvent(`$${roomId.slice(1)}`);
      if (isCreate(ev)) return ev;
    }
  }
  for (const id of computeAuthChain(ids, store)) {
    const ev = store.getEvent(id);
    if (isCreate(ev)) return ev;
  }
  throw new Error("state resolution: the room's m.room.create event is not available");
}

interface Context {
  version: RoomVersion;
  store: StateResolutionStore;
  createEvent: Pdu;
  authOptions?: AuthOptions;
}

/** The auth state for checking `event` against `state` in the iterative auth checks. */
function authStateFor(ctx: Context, event: Pdu, state: StateMap<string>, useAuthEvents: boolean): StateMap<Pdu> {
  const { store, version } = ctx;
  const fromAuthEvents = new Map<string, Pdu>();
  if (useAuthEvents) {
    for (const id of authEventIds(event)) {
      const a = store.getEvent(id);
      if (a && a.state_key !== undefined && !isRejected(store, id)) fromAuthEvents.set(stateKey(a.type, a.state_key), a);
    }
  }
  const authState: StateMap<Pdu> = new Map();
  for (const [type, key] of authTypesForEvent(version, event)) {
    const k = stateKey(type, key);
    const id = state.get(k);
    const fromState = id === undefined || isRejected(store, id) ? undefined : store.getEvent(id);
    const chosen = fromState ?? fromAuthEvents.get(k);
    if (chosen) authState.set(k, chosen);
  }
  // The create event is always part of the room state; from v12 it is never
  // among the auth events (nor selected by the auth types), so supply it.
  if (!authState.has(CREATE_KEY)) authState.set(CREATE_KEY, ctx.createEvent);
  return authState;
}

// ---------------------------------------------------------------------------
// State resolution v2 and v2.1

/**
 * Iterative auth checks: apply each state event in order to the state if the
 * authorisation rules allow it against the state so far; a key required by
 * the rules but absent from the state is taken from the event's (non-rejected)
 * auth events.
 */
export function iterativeAuthChecks(
  version: RoomVersion,
  initialState: StateMap<string>,
  eventIds: readonly string[],
  store: StateResolutionStore,
  createEvent: Pdu,
  authOptions?: AuthOptions,
): StateMap<string> {
  const ctx: Context = { version, store, createEvent, authOptions };
  const state = new Map(initialState);
  for (const id of eventIds) {
    const event = store.getEvent(id);
    if (!event || event.state_key === undefined) continue;
    const result = checkEventAuth(version, event, authStateFor(ctx, event, state, true), authOptions);
    if (result.ok) state.set(stateKey(event.type, event.state_key), id);
  }
  return state;
}

/**
 * The power level of the event's sender "when looking at its auth_events":
 * the power levels event among its auth events (if any), with the room's
 * create event (which from v12 is never among the auth events).
 */
function senderPowerLevel(ctx: Context, event: Pdu): number {
  let powerLevels: Pdu | undefined;
  for (const id of authEventIds(event)) {
    const a = ctx.store.getEvent(id);
    if (a && a.type === POWER_LEVELS && a.state_key === "") {
      powerLevels = a;
      break;
    }
  }
  return userPowerLevel(ctx.version, event.sender, ctx.createEvent, powerLevels);
}

/** A binary min-heap. */
class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}
  get size(): number {
    return this.items.length;
  }
  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * For each event of `set`, the events of `set` in its auth chain (transitively,
 * also through events outside `set`).
 */
function ancestorsWithin(set: ReadonlySet<string>, store: StateResolutionStore): Map<string, Set<string>> {
  // memo.get(id) = members of `set` in the auth chain of id.
  const memo = new Map<string, Set<string>>();
  const EMPTY: Set<string> = new Set();
  const visit = (start: string) => {
    if (memo.has(start)) return;
    const stack: Array<{ id: string; children: string[]; i: number }> = [];
    const push = (id: string) => {
      const ev = store.getEvent(id);
      stack.push({ id, children: ev ? authEventIds(ev) : [], i: 0 });
      memo.set(id, EMPTY); // provisional; the auth graph is a DAG
    };
    push(start);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.i < top.children.length) {
        const child = top.children[top.i++]!;
        if (!memo.has(child)) push(child);
        continue;
      }
      stack.pop();
      let acc: Set<string> | undefined;
      for (const c of top.children) {
        const sub = memo.get(c) ?? EMPTY;
        if (!set.has(c) && sub.size === 0) continue;
        acc ??= new Set();
        if (set.has(c)) acc.add(c);
        for (const s of sub) acc.add(s);
      }
      memo.set(top.id, acc ?? EMPTY);
    }
  };
  const out = new Map<string, Set<string>>();
  for (const id of set) {
    visit(id);
    out.set(id, memo.get(id) ?? EMPTY);
  }
  return out;
}

/**
 * Sort events by the reverse topological power ordering: Kahn's algorithm over
 * the auth DAG restricted to these events (an event comes after every one of
 * them in its auth chain), choosing at each step the smallest candidate by:
 * sender power level (from its auth events) descending, then
 * origin_server_ts ascending, then event id ascending.
 */
export function reverseTopologicalPowerOrdering(
  version: RoomVersion,
  eventIds: Iterable<string>,
  store: StateResolutionStore,
  createEvent: Pdu,
): string[] {
  const ctx: Context = { version, store, createEvent };
  const set = new Set<string>();
  for (const id of eventIds) if (store.getEvent(id)) set.add(id);
  const ancestors = ancestorsWithin(set, store);
  const pending = new Map<string, number>(); // id -> number of unsorted ancestors in set
  const children = new Map<string, string[]>(); // ancestor -> events having it in their auth chain
  for (const [id, anc] of ancestors) {
    pending.set(id, anc.size);
    for (const a of anc) {
      const list = children.get(a);
      if (list) list.push(id);
      else children.set(a, [id]);
    }
  }
  type Key = { id: string; power: number; ts: number };
  const keyOf = (id: string): Key => {
    const ev = store.getEvent(id)!;
    return { id, power: senderPowerLevel(ctx, ev), ts: ev.origin_server_ts };
  };
  const heap = new MinHeap<Key>((x, y) => {
    if (x.power !== y.power) return x.power > y.power;
    if (x.ts !== y.ts) return x.ts < y.ts;
    return x.id < y.id;
  });
  for (const [id, n] of pending) if (n === 0) heap.push(keyOf(id));
  const sorted: string[] = [];
  while (heap.size > 0) {
    const { id } = heap.pop()!;
    sorted.push(id);
    for (const child of children.get(id) ?? []) {
      const n = pending.get(child)! - 1;
      pending.set(child, n);
      if (n === 0) heap.push(keyOf(child));
    }
  }
  return sorted;
}

/** The `m.room.power_levels` event (state key "") among the event's auth events. */
function powerLevelsAuthEvent(event: Pdu, store: StateResolutionStore): string | undefined {
  for (const id of authEventIds(event)) {
    const a = store.getEvent(id);
    if (a && a.type === POWER_LEVELS && a.state_key === "") return id;
  }
  return undefined;
}

/**
 * Sort events by the mainline ordering based on the power levels event
 * `powerLevelsEventId` (none: every mainline position is ∞): mainline position
 * descending, then origin_server_ts ascending, then event id ascending.
 */
export function mainlineOrdering(
  eventIds: Iterable<string>,
  powerLevelsEventId: string | undefined,
  store: StateResolutionStore,
): string[] {
  // Mainline [P0, P1, …, Pn]: index i of each event.
  const mainline = new Map<string, number>();
  for (let p = powerLevelsEventId, i = 0; p !== undefined && !mainline.has(p); i++) {
    mainline.set(p, i);
    const ev = store.getEvent(p);
    p = ev ? powerLevelsAuthEvent(ev, store) : undefined;
  }
  const position = (event: Pdu): number => {
    const seen = new Set<string>();
    // e1, e2, …: follow the power levels auth events; e0 itself is not considered.
    for (let e = powerLevelsAuthEvent(event, store); e !== undefined && !seen.has(e); ) {
      const i = mainline.get(e);
      if (i !== undefined) return i;
      seen.add(e);
      const ev = store.getEvent(e);
      e = ev ? powerLevelsAuthEvent(ev, store) : undefined;
    }
    return Infinity;
  };
  const keyed: Array<{ id: string; pos: number; ts: number }> = [];
  for (const id of new Set(eventIds)) {
    const ev = store.getEvent(id);
    if (ev) keyed.push({ id, pos: position(ev), ts: ev.origin_server_ts });
  }
  keyed.sort((x, y) => {
    if (x.pos !== y.pos) return x.pos > y.pos ? -1 : 1;
    if (x.ts !== y.ts) return x.ts - y.ts;
    return compareStrings(x.id, y.id);
  });
  return keyed.map((k) => k.id);
}

function resolveStateV2(
  version: RoomVersion,
  stateSets: ReadonlyArray<StateMap<string>>,
  store: StateResolutionStore,
  options: ResolveStateOptions,
  authOptions: AuthOptions,
): StateMap<string> {
  const v21 = version.stateRes === "v2.1";
  const { unconflicted, conflicted } = splitConflictedState(stateSets);
  // With no conflicted state every set is the same map, so the auth
  // difference is empty and the result is the unconflicted map.
  if (conflicted.size === 0) return unconflicted;

  const createEvent = findCreateEvent(version, stateSets, store, options);
  const conflictedEvents = new Set<string>();
  for (const ids of conflicted.values()) for (const id of ids) conflictedEvents.add(id);

  const authChains =
    options.authChainSets ?? stateSets.map((s) => computeAuthChain(s.values(), store));

  // Full conflicted set: conflicted state set ∪ auth difference (∪ conflicted
  // state subgraph in v2.1). Events that are not available are ignored.
  const full = new Set<string>();
  const addAvailable = (ids: Iterable<string>) => {
    for (const id of ids) if (store.getEvent(id)) full.add(id);
  };
  addAvailable(conflictedEvents);
  addAvailable(authDifference(authChains));
  if (v21) addAvailable(conflictedStateSubgraph(conflictedEvents, store));

  // 1. Power events of the full conflicted set, with the events of their auth
  //    chains that are in the full conflicted set; reverse topological power
  //    ordering. "Auth chain" is the whole chain, also through events outside
  //    the full conflicted set (Synapse and ruma only follow auth edges whose
  //    both ends are in it; the results differ only when such a gap exists).
  const powerEvents = [...full].filter((id) => isPowerEvent(store.getEvent(id)!));
  const x = new Set(powerEvents);
  const powerChain = computeAuthChain(powerEvents, store);
  for (const id of powerChain) if (full.has(id)) x.add(id);
  const sortedPower = reverseTopologicalPowerOrdering(version, x, store, createEvent);

  // 2. Iterative auth checks from the unconflicted state map (v2) or the empty map (v2.1).
  const partial = iterativeAuthChecks(
    version,
    v21 ? new Map() : unconflicted,
    sortedPower,
    store,
    createEvent,
    authOptions,
  );

  // 3. The remaining events, in mainline ordering based on the partially resolved power levels.
  const remaining = [...full].filter((id) => !x.has(id));
  const sortedRemaining = mainlineOrdering(remaining, partial.get(POWER_LEVELS_KEY), store);

  // 4. Iterative auth checks on the partially resolved state.
  const resolved = iterativeAuthChecks(version, partial, sortedRemaining, store, createEvent, authOptions);

  // 5. The unconflicted state map wins.
  for (const [k, id] of unconflicted) resolved.set(k, id);
  return resolved;
}

// ---------------------------------------------------------------------------
// State resolution v1 (room version 1)

function sha1Hex(eventId: string): string {
  return bytesToHex(sha1(utf8ToBytes(eventId)));
}

function resolveStateV1(
  version: RoomVersion,
  stateSets: ReadonlyArray<StateMap<string>>,
  store: StateResolutionStore,
  options: ResolveStateOptions,
  authOptions: AuthOptions,
): StateMap<string> {
  // R starts as the union of the states without the conflicting events: a
  // conflict is a key with different event ids in different states.
  const values = new Map<string, Set<string>>();
  for (const s of stateSets) {
    for (const [k, id] of s) {
      const set = values.get(k);
      if (set) set.add(id);
      else values.set(k, new Set([id]));
    }
  }
  const r: StateMap<string> = new Map();
  const conflicts = new Map<string, Pdu[]>();
  const ids = new Map<Pdu, string>();
  for (const [k, set] of values) {
    if (set.size === 1) {
      r.set(k, [...set][0]!);
      continue;
    }
    const events: Pdu[] = [];
    for (const id of set) {
      const ev = store.getEvent(id);
      if (ev) {
        events.push(ev);
        ids.set(ev, id);
      }
    }
    if (events.length === 1) r.set(k, ids.get(events[0]!)!);
    else if (events.length > 1) conflicts.set(k, events);
  }
  if (conflicts.size === 0) return r;

  const createEvent = findCreateEvent(version, stateSets, store, options);
  const ctx: Context = { version, store, createEvent, authOptions };
  const hashes = new Map<string, string>();
  const hashOf = (ev: Pdu): string => {
    const id = ids.get(ev)!;
    let h = hashes.get(id);
    if (h === undefined) hashes.set(id, (h = sha1Hex(id)));
    return h;
  };
  const allowed = (ev: Pdu, state: StateMap<string>) =>
    checkEventAuth(version, ev, authStateFor(ctx, ev, state, false), authOptions).ok;

  // Power levels, join rules and membership: sort by ascending depth then
  // descending sha1(event_id); take the first, then each next one while it is
  // allowed in R. Each key of a pass is resolved against R as it was at the
  // start of that pass; R is updated after the pass.
  const resolveAuthConflict = (events: Pdu[]): string => {
    const sorted = [...events].sort((a, b) => a.depth - b.depth || compareStrings(hashOf(b), hashOf(a)));
    const state = new Map(r);
    let chosen = sorted[0]!;
    state.set(stateKey(chosen.type, chosen.state_key ?? ""), ids.get(chosen)!);
    for (const ev of sorted.slice(1)) {
      if (!allowed(ev, state)) break;
      chosen = ev;
      state.set(stateKey(ev.type, ev.state_key ?? ""), ids.get(ev)!);
    }
    return ids.get(chosen)!;
  };
  const pass = (select: (key: string, events: Pdu[]) => boolean, resolveOne: (events: Pdu[]) => string) => {
    const results: Array<[string, string]> = [];
    for (const [k, events] of conflicts) {
      if (select(k, events)) {
        results.push([k, resolveOne(events)]);
        conflicts.delete(k);
      }
    }
    for (const [k, id] of results) r.set(k, id);
  };
  const typeIs = (type: string) => (_k: string, events: Pdu[]) => events[0]!.type === type;
  pass((k) => k === POWER_LEVELS_KEY, resolveAuthConflict);
  pass(typeIs(JOIN_RULES), resolveAuthConflict);
  pass(typeIs(MEMBER), resolveAuthConflict);
  // Everything else: the event with the highest depth and lowest
  // sha1(event_id) that is allowed in R. The spec does not say what happens if
  // none is; like Synapse, take the last one in that order.
  pass(
    () => true,
    (events) => {
      const sorted = [...events].sort((a, b) => b.depth - a.depth || compareStrings(hashOf(a), hashOf(b)));
      const chosen = sorted.find((ev) => allowed(ev, r)) ?? sorted[sorted.length - 1]!;
      return ids.get(chosen)!;
    },
  );
  return r;
}
