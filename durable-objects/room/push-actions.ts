/**
 * Push rule evaluation at publish time (client-server-api "Push Notifications",
 * "Server behaviour": "When receiving a new event homeservers process push rules
 * for each of the local users in the room (excluding the sender)").
 *
 * Why here, and not lazily at /sync: the Room DO already holds everything the
 * rules need (members, display names, power levels, relations for thread ids),
 * each event is evaluated once instead of on every sync of every member, and the
 * resulting `event_push_actions` rows go into the same D1 batch as the event, so
 * "the updated notification count from a new event MUST appear in the same /sync
 * response as the event itself" holds by construction. Only events that notify
 * get a row (Synapse's approach); /sync then counts rows after the user's read
 * position (services/push/unread-counts.ts).
 *
 * The statements select the event's stream_pos from room_events by event id, so
 * they can follow the publish statements in any order and a retried publish
 * (events already in D1) inserts nothing twice. Pushes to gateways
 * (services/push/gateway.ts) are sent only after the batch has committed.
 */
import type { JsonObject } from "../../src/json.js";
import { isJsonObject } from "../../src/json.js";
import { notificationPowerLevel, userPowerLevel } from "../../src/power-levels.js";
import { type PushRuleset, buildRuleset, evaluatePushRules, pushOutcome } from "../../src/push-rules.js";
import type { RoomVersion } from "../../src/room-versions.js";
import type { PendingPush } from "../../services/push/gateway.js";
import { loadStoredRules } from "../../services/push/rules-store.js";
import type { PublishItem } from "./publish.js";
import type { RoomStore } from "./room-store.js";

/** "Implementations are encouraged to do a maximum of 3 hops to find a thread" (spec "Receiving notifications"). */
const MAX_THREAD_HOPS = 3;

export const MAIN_THREAD = "main";

function relatesTo(content: unknown): { relType?: string; eventId?: string } {
  const rel = isJsonObject(content) ? content["m.relates_to"] : undefined;
  if (!isJsonObject(rel)) return {};
  return {
    ...(typeof rel.rel_type === "string" ? { relType: rel.rel_type } : {}),
    ...(typeof rel.event_id === "string" ? { eventId: rel.event_id } : {}),
  };
}

/**
 * The thread an event belongs to: the root of its `m.thread` relation, or that of
 * the event it relates to (an edit or reaction of a thread message), following
 * at most 3 relations; else the main timeline (thread roots included).
 */
export function threadOf(store: RoomStore, content: unknown): string {
  let rel = relatesTo(content);
  for (let hop = 0; hop < MAX_THREAD_HOPS; hop++) {
    if (rel.relType === "m.thread" && rel.eventId) return rel.eventId;
    if (!rel.eventId) break;
    const parent = store.eventById(rel.eventId);
    if (!parent) break;
    rel = relatesTo(store.pduOf(parent).content);
  }
  return MAIN_THREAD;
}

interface Member {
  membership: string;
  displayName: string | undefined;
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** The D1 statements to add to the publish batch, and the gateway pushes to send once it has committed. */
export interface PushPlan {
  statements: D1PreparedStatement[];
  pending: PendingPush[];
}

export async function planPushActions(
  db: D1Database,
  serverName: string,
  store: RoomStore,
  version: RoomVersion,
  items: PublishItem[],
): Promise<PushPlan> {
  const events = items.filter((i) => i.kind === "event");
  if (events.length === 0) return { statements: [], pending: [] };
  const local = (u: string) => u.endsWith(`:${serverName}`);

  // Membership now, then rewound to before this batch with each member event's prev_content.
  const members = new Map<string, Member>();
  for (const row of store.membersWith(["join"])) {
    members.set(row.state_key!, { membership: "join", displayName: str(store.pduOf(row).content.displayname) });
  }
  for (const it of [...events].reverse()) {
    const ev = it.event;
    if (ev.type !== "m.room.member" || ev.state_key === undefined) continue;
    const prev = ev.unsigned?.prev_content;
    members.set(ev.state_key, {
      membership: (isJsonObject(prev) && str(prev.membership)) || "leave",
      displayName: isJsonObject(prev) ? str(prev.displayname) : undefined,
    });
  }

  // Everyone local who may be notified by some event of the batch: members joined
  // before or during it, and the targets of invites.
  const candidates = new Set<string>();
  for (const [u, m] of members) if (m.membership === "join" && local(u)) candidates.add(u);
  for (const it of events) {
    const ev = it.event;
    if (ev.type === "m.room.member" && ev.state_key && local(ev.state_key) && ["join", "invite"].includes(str(ev.content.membership) ?? "")) {
      candidates.add(ev.state_key);
    }
  }
  const stored = candidates.size ? await loadStoredRules(db, [...candidates]) : new Map();
  const rulesets = new Map<string, PushRuleset>();
  const rulesetOf = (u: string) => {
    let r = rulesets.get(u);
    if (!r) rulesets.set(u, (r = buildRuleset(u, stored.get(u) ?? [])));
    return r;
  };

  const create = store.currentStateEvent("m.room.create", "");
  const createPdu = create ? store.pduOf(create) : undefined;
  const pl = store.currentStateEvent("m.room.power_levels", "");
  const plPdu = pl ? store.pduOf(pl) : undefined;
  const roomName = str(stateContent(store, "m.room.name")?.name);
  const roomAlias = str(stateContent(store, "m.room.canonical_alias")?.alias);
  const now = Date.now();
  const out: D1PreparedStatement[] = [];
  const pending: PendingPush[] = [];

  for (const it of events) {
    const ev = it.event;
    const thread = threadOf(store, ev.content);
    let joined = 0;
    for (const m of members.values()) if (m.membership === "join") joined++;
    const recipients = [...members].filter(([u, m]) => m.membership === "join" && local(u)).map(([u]) => u);
    if (ev.type === "m.room.member" && ev.state_key && local(ev.state_key) && ev.content.membership === "invite") recipients.push(ev.state_key);
    const senderLevel = userPowerLevel(version, ev.sender, createPdu, plPdu);
    const rows: JsonObject[] = [];
    for (const u of new Set(recipients)) {
      // "Homeservers MUST NOT notify the Push Gateway for events that the user has sent themselves."
      if (u === ev.sender) continue;
      const match = evaluatePushRules(rulesetOf(u), ev as unknown as JsonObject, {
        userId: u,
        displayName: members.get(u)?.displayName,
        memberCount: joined,
        senderPowerLevel: senderLevel,
        notificationLevel: (key) => notificationPowerLevel(version, key, plPdu),
      });
      if (!match) continue;
      const outcome = pushOutcome(match.actions);
      if (!outcome.notify) continue;
      rows.push({ u, h: outcome.highlight ? 1 : 0, a: JSON.stringify(match.actions) });
      pending.push({
        userId: u,
        event: { event_id: ev.event_id, room_id: ev.room_id, type: ev.type, sender: ev.sender, ...(ev.state_key !== undefined ? { state_key: ev.state_key } : {}), content: ev.content },
        tweaks: outcome.tweaks,
        senderDisplayName: members.get(ev.sender)?.displayName,
        roomName,
        roomAlias,
      });
    }
    if (rows.length) {
      out.push(
        db
          .prepare(
            "INSERT OR IGNORE INTO event_push_actions (user_id, room_id, stream_pos, event_id, thread_id, highlight, actions, ts) " +
              "SELECT j.value ->> 'u', e.room_id, e.stream_pos, e.event_id, ?, j.value ->> 'h', j.value ->> 'a', ? FROM room_events e, json_each(?) j WHERE e.event_id = ?",
          )
          .bind(thread, now, JSON.stringify(rows), ev.event_id),
      );
    }
    // Sending an event marks what came before it in its thread as read (spec "Marking notifications as read").
    if (local(ev.sender)) {
      out.push(
        db
          .prepare(
            "INSERT INTO push_sent_reads (user_id, room_id, thread_id, stream_pos) SELECT ?, e.room_id, ?, e.stream_pos FROM room_events e WHERE e.event_id = ? " +
              "ON CONFLICT (user_id, room_id, thread_id) DO UPDATE SET stream_pos = MAX(stream_pos, excluded.stream_pos)",
          )
          .bind(ev.sender, thread, ev.event_id),
      );
    }
    if (ev.type === "m.room.member" && ev.state_key !== undefined) {
      members.set(ev.state_key, { membership: str(ev.content.membership) ?? "leave", displayName: str(ev.content.displayname) });
    }
  }
  return { statements: out, pending };
}

function stateContent(store: RoomStore, type: string): JsonObject | undefined {
  const row = store.currentStateEvent(type, "");
  return row ? store.pduOf(row).content : undefined;
}
