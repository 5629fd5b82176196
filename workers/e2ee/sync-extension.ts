import type { JsonObject, JsonValue } from "../../src/json.js";
import { type OneTimeKeyCountRow, oneTimeKeyCountsStatement, unusedFallbackKeyTypesStatement } from "../../services/d1/device-keys.js";
import type { Env } from "../../services/env.js";
import type { SyncExtension } from "../sync/context.js";
import { deviceListsFromResults, deviceListsStatements } from "./device-lists.js";

/**
 * What /sync (and the sliding-sync `to_device` and `e2ee` extensions) need from
 * end-to-end encryption (spec: "Extensions to /sync" in the E2EE and
 * Send-to-Device modules).
 *
 * To-device delivery and acknowledgement: a sync answering with next_batch
 * `s<upTo>` returns the device's oldest pending messages (at most `limit`, in
 * arrival order) and stamps each, the first time, with `delivered_pos = upTo`.
 * When the client later syncs with `since >= delivered_pos` it has processed that
 * response, so that sync's acknowledgement (`ackStatement`) deletes the message;
 * until then it is delivered again. Messages beyond the limit are not stamped, so
 * a capped response never loses any.
 */

export interface ToDeviceEvent {
  sender: string;
  type: string;
  content: JsonObject;
}

export interface E2eeSyncResult {
  to_device: { events: ToDeviceEvent[] };
  /** Empty on an initial sync (`since` null): the spec only fills it for incremental syncs. */
  device_lists: { changed: string[]; left: string[] };
  /** Always has `signed_curve25519` (0 when none), as Synapse sends it. */
  device_one_time_keys_count: Record<string, number>;
  /** Always present (the spec marks it required), possibly empty. */
  device_unused_fallback_key_types: string[];
}

/** Synapse's and the spec's recommended per-response cap. */
export const TO_DEVICE_SYNC_LIMIT = 100;

/**
 * The E2EE part of one sync response for `userId`'s `deviceId`, covering stream
 * positions (since, upTo], in one D1 batch (plus one write when new to-device
 * messages are handed out). With `ack`, the batch first acknowledges what earlier
 * responses up to `since` delivered (toDeviceForSync does the same with `ackSince`).
 */
export async function e2eeSync(
  env: Env,
  userId: string,
  deviceId: string,
  since: number | null,
  upTo: number,
  opts: { toDeviceLimit?: number; ack?: boolean } = {},
): Promise<E2eeSyncResult> {
  const db = env.DB;
  const stmts: D1PreparedStatement[] = [];
  if (opts.ack && since !== null) stmts.push(ackStatement(db, userId, deviceId, since));
  const first = stmts.length;
  stmts.push(...keyCountStatements(db, userId, deviceId), toDeviceStatement(db, userId, deviceId, upTo, opts.toDeviceLimit ?? TO_DEVICE_SYNC_LIMIT));
  const withLists = since !== null && upTo > since;
  if (withLists) stmts.push(...deviceListsStatements(db, userId, since, upTo));
  const results = await db.batch(stmts);
  const keys = keyCountsFromResults(results.slice(first, first + 2));
  const toDevice = await stampDelivered(db, upTo, (results[first + 2]?.results ?? []) as ToDeviceRow[]);
  return {
    to_device: { events: toDevice },
    device_lists: withLists ? deviceListsFromResults(results.slice(first + 3)) : { changed: [], left: [] },
    device_one_time_keys_count: keys.oneTimeKeyCounts,
    device_unused_fallback_key_types: keys.unusedFallbackKeyTypes,
  };
}

/** `device_one_time_keys_count` and `device_unused_fallback_key_types` in one D1 round trip. */
export async function deviceKeyCounts(
  db: D1Database,
  userId: string,
  deviceId: string,
): Promise<{ oneTimeKeyCounts: Record<string, number>; unusedFallbackKeyTypes: string[] }> {
  return keyCountsFromResults(await db.batch(keyCountStatements(db, userId, deviceId)));
}

function keyCountStatements(db: D1Database, userId: string, deviceId: string): D1PreparedStatement[] {
  return [oneTimeKeyCountsStatement(db, userId, deviceId), unusedFallbackKeyTypesStatement(db, userId, deviceId)];
}

function keyCountsFromResults([counts, fallbacks]: D1Result[]): { oneTimeKeyCounts: Record<string, number>; unusedFallbackKeyTypes: string[] } {
  return {
    oneTimeKeyCounts: oneTimeKeyCountsOf((counts?.results ?? []) as OneTimeKeyCountRow[]),
    unusedFallbackKeyTypes: ((fallbacks?.results ?? []) as { algorithm: string }[]).map((r) => r.algorithm),
  };
}

/** Counts per algorithm, always including `signed_curve25519` (Synapse does; clients top up from it). */
export function oneTimeKeyCountsOf(rows: OneTimeKeyCountRow[]): Record<string, number> {
  const out: Record<string, number> = { signed_curve25519: 0 };
  for (const r of rows) out[r.algorithm] = r.n;
  return out;
}

interface ToDeviceRow {
  id: number;
  sender: string;
  type: string;
  content: string;
  delivered_pos: number | null;
}

function toDeviceStatement(db: D1Database, userId: string, deviceId: string, upTo: number, limit: number): D1PreparedStatement {
  return db
    .prepare(
      "SELECT id, sender, type, content, delivered_pos FROM to_device_messages WHERE user_id = ? AND device_id = ? AND stream_pos <= ? ORDER BY id LIMIT ?",
    )
    .bind(userId, deviceId, upTo, Math.max(1, Math.min(limit, 1000)));
}

/** Stamps messages handed out for the first time with `delivered_pos = upTo`; returns them as events. */
async function stampDelivered(db: D1Database, upTo: number, rows: ToDeviceRow[]): Promise<ToDeviceEvent[]> {
  const fresh = rows.filter((r) => r.delivered_pos === null).map((r) => r.id);
  if (fresh.length) {
    await db
      .prepare("UPDATE to_device_messages SET delivered_pos = ? WHERE delivered_pos IS NULL AND id IN (SELECT value FROM json_each(?))")
      .bind(upTo, JSON.stringify(fresh))
      .run();
  }
  return rows.map((r) => ({ sender: r.sender, type: r.type, content: JSON.parse(r.content) as JsonObject }));
}

/**
 * The device's pending to-device messages up to `upTo`, oldest first (at most
 * `limit`), stamped as delivered at `upTo` the first time they are handed out.
 * With `ackSince`, what the responses up to it carried is deleted first, in the
 * same batch (the client has processed them).
 */
export async function toDeviceForSync(
  db: D1Database,
  userId: string,
  deviceId: string,
  upTo: number,
  limit = TO_DEVICE_SYNC_LIMIT,
  ackSince: number | null = null,
): Promise<ToDeviceEvent[]> {
  const stmts = ackSince === null ? [] : [ackStatement(db, userId, deviceId, ackSince)];
  const results = await db.batch([...stmts, toDeviceStatement(db, userId, deviceId, upTo, limit)]);
  return stampDelivered(db, upTo, (results.at(-1)?.results ?? []) as ToDeviceRow[]);
}

function ackStatement(db: D1Database, userId: string, deviceId: string, since: number): D1PreparedStatement {
  return db
    .prepare("DELETE FROM to_device_messages WHERE user_id = ? AND device_id = ? AND delivered_pos IS NOT NULL AND delivered_pos <= ?")
    .bind(userId, deviceId, since);
}

/**
 * The /sync (v3) extension: acknowledges what the previous response delivered
 * (`since`), then contributes `to_device`, `device_lists`,
 * `device_one_time_keys_count` and `device_unused_fallback_key_types`. New
 * to-device messages and device-list changes are news (they end a long-poll);
 * key counts alone are not. Register it in workers/sync/extensions.ts.
 */
export const e2eeSyncExtension: SyncExtension = async (ctx) => {
  const r = await e2eeSync(ctx.env, ctx.userId, ctx.deviceId, ctx.since, ctx.upTo, { ack: true });
  return {
    top: r as unknown as Record<string, JsonValue>,
    hasNews: r.to_device.events.length > 0 || r.device_lists.changed.length > 0 || r.device_lists.left.length > 0,
  };
};
