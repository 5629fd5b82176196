/**
 * Delivery to push gateways (client-server-api "Push Notifications" step 4,
 * push-gateway-api): after the Room DO has published events and their
 * notification rows, each notified user's http pushers get a POST to their
 * `data.url` — one request per (event, pusher), as Synapse sends them.
 *
 * Best effort, from the Room DO's waitUntil: a failed request (network error,
 * timeout or 5xx) is retried twice with a short backoff, then dropped; there is
 * no durable retry queue. Pushkeys a gateway lists as `rejected` lose their
 * pusher ("Homeservers must cease sending notification requests for these
 * pushkeys and remove the associated pushers").
 */
import type { JsonObject } from "../../src/json.js";
import { type PushedEvent, notifyBody, rejectedPushkeys } from "../../src/push-notify.js";
import type { Env } from "../env.js";
import { deletePusherStatement, type HttpPusherRow, httpPushersOf } from "../d1/pushers.js";
import { joinedRoomIds } from "../d1/room-memberships.js";
import { readStreamPos } from "../stream.js";
import { unreadCounts } from "./unread-counts.js";

export interface PendingPush {
  userId: string;
  event: PushedEvent;
  tweaks: JsonObject;
  senderDisplayName: string | undefined;
  roomName: string | undefined;
  roomAlias: string | undefined;
}


const TIMEOUT_MS = 10_000;
const RETRY_DELAYS_MS = [1_000, 4_000];

/** Synapse's default badge: the number of rooms with unread notifications. */
async function badge(env: Env, userId: string, head: number): Promise<number> {
  const counts = await unreadCounts(env.DB, userId, await joinedRoomIds(env.DB, userId), head);
  let rooms = 0;
  for (const threads of counts.values()) if ([...threads.values()].some((c) => c.notify > 0)) rooms++;
  return rooms;
}

async function post(url: string, body: JsonObject): Promise<unknown> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(TIMEOUT_MS),
        redirect: "manual",
      });
      if (res.status >= 500 && attempt < RETRY_DELAYS_MS.length) {
        await res.body?.cancel();
        throw new Error(`gateway answered ${res.status}`);
      }
      if (!res.ok) {
        await res.body?.cancel();
        return undefined;
      }
      return await res.json().catch(() => undefined);
    } catch (e) {
      if (attempt >= RETRY_DELAYS_MS.length) throw e;
      await new Promise((r) => setTimeout(r, RETRY_DELAYS_MS[attempt]));
    }
  }
}

export async function deliverPushes(env: Env, pending: PendingPush[]): Promise<void> {
  if (pending.length === 0) return;
  const users = [...new Set(pending.map((p) => p.userId))];
  const pushers = await httpPushersOf(env.DB, users);
  if (pushers.length === 0) return;
  const head = await readStreamPos(env.DB);
  const badges = new Map<string, number>();
  for (const u of new Set(pushers.map((p) => p.user_id))) badges.set(u, await badge(env, u, head));
  const rejected: HttpPusherRow[] = [];
  await Promise.all(
    pending.flatMap((p) =>
      pushers
        .filter((row) => row.user_id === p.userId)
        .map(async (row) => {
          const data = JSON.parse(row.data) as JsonObject;
          if (typeof data.url !== "string") return;
          const body = notifyBody({ ...p, unread: badges.get(p.userId) ?? 0, pusher: { app_id: row.app_id, pushkey: row.pushkey, data, created_ts: row.created_ts } });
          try {
            if (rejectedPushkeys(await post(data.url, body)).includes(row.pushkey)) rejected.push(row);
          } catch (e) {
            console.error(`push to ${new URL(data.url).host} for ${p.userId} failed`, e);
          }
        }),
    ),
  );
  if (rejected.length) {
    await env.DB.batch(rejected.map((r) => deletePusherStatement(env.DB, r.user_id, r.app_id, r.pushkey)));
  }
}
