/**
 * Sliding-sync extensions (MSC3884 e2ee, MSC3885 to_device, MSC3959 account_data,
 * MSC3960 receipts, MSC3961 typing, as MSC4186 carries them), built from the
 * same stores and queries as /sync's sections. Unknown extensions are ignored.
 *
 * - `to_device` has its own `since` token, independent of `pos` and of the
 *   connection (clients keep it across connections): messages handed out are
 *   stamped with the position of the response and deleted once a request presents
 *   a `since` at or past it — the same acknowledgement as /sync's.
 * - `e2ee`: device list changes since the connection's last response (none on a
 *   new connection), and the one-time-key counts and unused fallback key types
 *   always (CLIENTS.md §2.5: the SDK reads a missing count as "unchanged").
 * - `account_data`, `receipts`, `typing`: for the rooms the request's lists and
 *   subscriptions select (`lists`/`rooms`, `"*"` for all; both default to all);
 *   changes since the connection's last response, everything for rooms new to it;
 *   a new connection always gets `m.push_rules` (the defaults if never changed).
 */
import type { JsonObject, JsonValue } from "../../src/json.js";
import { buildRuleset } from "../../src/push-rules.js";
import { receiptEvents } from "../../src/receipts.js";
import type { SlidingSyncRequest } from "../../src/sliding-sync.js";
import { loadStoredRules, pushRulesContent } from "../../services/push/rules-store.js";
import { GLOBAL, accountDataForSync } from "../account-data/account-data.js";
import { deviceListsFromResults, deviceListsStatements } from "../e2ee/device-lists.js";
import { TO_DEVICE_SYNC_LIMIT, deviceKeyCounts, toDeviceForSync } from "../e2ee/sync-extension.js";
import { receiptsForSync } from "../receipts/receipts.js";
import { typingForSync } from "../typing/typing-sync.js";
import { Topic } from "../../services/wake.js";

export interface ExtensionContext {
  db: D1Database;
  userId: string;
  deviceId: string;
  /** The connection's last response position; null for a new connection. */
  since: number | null;
  upTo: number;
  /** Rooms of each list's window, and the subscribed rooms (only rooms the user may see). */
  listRooms: Map<string, string[]>;
  subscribed: string[];
  /** Rooms sent with `initial: true` in this response: their data is sent whole. */
  initialRooms: Set<string>;
}

type Ext = NonNullable<SlidingSyncRequest["extensions"]>;

/** The rooms an extension covers (Synapse find_relevant_room_ids_for_extension). */
function scope(ctx: ExtensionContext, cfg: { lists?: string[] | undefined; rooms?: string[] | undefined }): string[] {
  const out = new Set<string>();
  const lists = cfg.lists ?? ["*"];
  for (const [name, rooms] of ctx.listRooms) if (lists.includes("*") || lists.includes(name)) for (const r of rooms) out.add(r);
  const subs = cfg.rooms ?? ["*"];
  for (const r of ctx.subscribed) if (subs.includes("*") || subs.includes(r)) out.add(r);
  return [...out];
}

const on = (e: { enabled?: boolean | undefined } | undefined): e is { enabled?: boolean } => e?.enabled === true;

/** The writes (services/wake.ts Topic) that can give the enabled extensions something to send. */
export function extensionTopics(ext: Ext | undefined): number {
  let topics = 0;
  if (on(ext?.to_device)) topics |= Topic.TO_DEVICE;
  if (on(ext?.e2ee)) topics |= Topic.DEVICE_LISTS;
  if (on(ext?.account_data)) topics |= Topic.ACCOUNT_DATA | Topic.ROOMS;
  if (on(ext?.receipts) || on(ext?.typing)) topics |= Topic.ROOMS;
  return topics;
}

export async function buildExtensions(ctx: ExtensionContext, ext: Ext | undefined): Promise<{ extensions: JsonObject; hasNews: boolean }> {
  const out: JsonObject = {};
  let hasNews = false;
  const tasks: Array<Promise<void>> = [];

  if (on(ext?.to_device)) {
    const cfg = ext!.to_device!;
    tasks.push(
      (async () => {
        const since = cfg.since !== undefined && /^\d{1,15}$/.test(cfg.since) ? Number(cfg.since) : null;
        // A token from the future is handed back unchanged, with nothing (Synapse).
        if (since !== null && since > ctx.upTo) {
          out.to_device = { next_batch: cfg.since!, events: [] };
          return;
        }
        // The client has processed what the responses up to `since` carried: deleted, then the rest read, in one batch.
        const events = await toDeviceForSync(ctx.db, ctx.userId, ctx.deviceId, ctx.upTo, Math.min(cfg.limit ?? TO_DEVICE_SYNC_LIMIT, TO_DEVICE_SYNC_LIMIT), since);
        out.to_device = { next_batch: String(ctx.upTo), events: events as unknown as JsonValue };
        if (events.length) hasNews = true;
      })(),
    );
  }

  if (on(ext?.e2ee)) {
    tasks.push(
      (async () => {
        const withLists = ctx.since !== null && ctx.upTo > ctx.since;
        const [keys, lists] = await Promise.all([
          deviceKeyCounts(ctx.db, ctx.userId, ctx.deviceId),
          withLists ? ctx.db.batch(deviceListsStatements(ctx.db, ctx.userId, ctx.since!, ctx.upTo)).then(deviceListsFromResults) : Promise.resolve({ changed: [], left: [] }),
        ]);
        out.e2ee = {
          device_lists: { changed: lists.changed, left: lists.left },
          device_one_time_keys_count: keys.oneTimeKeyCounts,
          device_unused_fallback_key_types: keys.unusedFallbackKeyTypes,
        };
        if (lists.changed.length || lists.left.length) hasNews = true;
      })(),
    );
  }

  if (on(ext?.account_data)) {
    const rooms = new Set(scope(ctx, ext!.account_data!));
    tasks.push(
      (async () => {
        const fresh = [...rooms].filter((r) => ctx.initialRooms.has(r));
        // A new connection's push rules are read beside the account data (needed unless the user stored some).
        const [rows, stored] = await Promise.all([
          accountDataForSync(ctx.db, ctx.userId, ctx.since, ctx.upTo, fresh),
          ctx.since === null ? loadStoredRules(ctx.db, [ctx.userId]) : undefined,
        ]);
        const global: JsonValue[] = [];
        const perRoom: Record<string, JsonValue[]> = {};
        for (const row of rows) {
          const event = { type: row.type, content: JSON.parse(row.content) as JsonObject };
          if (row.room_id === GLOBAL) global.push(event);
          else if (rooms.has(row.room_id)) (perRoom[row.room_id] ??= []).push(event);
        }
        // A new connection gets m.push_rules even before the user changed a rule (only then is it stored): the
        // SDKs recompute notification modes from it (Synapse adds it to the initial response likewise).
        if (stored && !global.some((e) => (e as { type: string }).type === "m.push_rules")) {
          global.push({ type: "m.push_rules", content: pushRulesContent(buildRuleset(ctx.userId, stored.get(ctx.userId) ?? [])) });
        }
        out.account_data = { global, rooms: perRoom };
        if (global.length || Object.keys(perRoom).length) hasNews = true;
      })(),
    );
  }

  if (on(ext?.receipts)) {
    const rooms = scope(ctx, ext!.receipts!);
    tasks.push(
      (async () => {
        const full = ctx.since === null ? rooms : rooms.filter((r) => ctx.initialRooms.has(r));
        const changed = ctx.since === null ? [] : rooms.filter((r) => !ctx.initialRooms.has(r));
        const receipts = await receiptsForSync(ctx.db, ctx.userId, ctx.since, ctx.upTo, changed, full);
        const perRoom: Record<string, JsonValue> = {};
        for (const [roomId, list] of receipts) {
          if (!list.length) continue;
          // One m.receipt event per room: the threads' contents merged.
          const content: JsonObject = {};
          for (const ev of receiptEvents(list)) mergeInto(content, ev.content as JsonObject);
          perRoom[roomId] = { type: "m.receipt", content };
        }
        out.receipts = { rooms: perRoom };
        if (Object.keys(perRoom).length) hasNews = true;
      })(),
    );
  }

  if (on(ext?.typing)) {
    const rooms = scope(ctx, ext!.typing!);
    tasks.push(
      (async () => {
        const full = ctx.since === null ? rooms : rooms.filter((r) => ctx.initialRooms.has(r));
        const changed = ctx.since === null ? [] : rooms.filter((r) => !ctx.initialRooms.has(r));
        const typing = await typingForSync(ctx.db, ctx.since, ctx.upTo, changed, full);
        const perRoom: Record<string, JsonValue> = {};
        for (const [roomId, users] of typing) perRoom[roomId] = { type: "m.typing", content: { user_ids: users } };
        out.typing = { rooms: perRoom };
        if (Object.keys(perRoom).length) hasNews = true;
      })(),
    );
  }

  await Promise.all(tasks);
  return { extensions: out, hasNews };
}

function mergeInto(into: JsonObject, from: JsonObject): void {
  for (const [k, v] of Object.entries(from)) {
    const cur = into[k];
    if (cur && typeof cur === "object" && !Array.isArray(cur) && v && typeof v === "object" && !Array.isArray(v)) mergeInto(cur, v);
    else into[k] = v;
  }
}
