/**
 * The body of a push gateway request (push-gateway-api `POST
 * /_matrix/push/v1/notify`) for one event and one pusher.
 */
import type { JsonObject } from "./json.js";

export interface PushedEvent {
  event_id: string;
  room_id: string;
  type: string;
  sender: string;
  state_key?: string;
  content: JsonObject;
}

export interface NotifyInput {
  event: PushedEvent;
  /** The recipient. */
  userId: string;
  senderDisplayName: string | undefined;
  roomName: string | undefined;
  roomAlias: string | undefined;
  tweaks: JsonObject;
  /** "The number of unread messages a user has across all of the rooms" (here: rooms with unread notifications, Synapse's default badge). */
  unread: number;
  pusher: { app_id: string; pushkey: string; data: JsonObject; created_ts: number };
}

/**
 * With `data.format` "event_id_only" only `event_id`, `room_id`, `counts` and
 * `devices` are sent; otherwise the event-related fields too. `data` goes to the
 * gateway without its `url` (client-server-api POST /pushers/set). Priority is
 * high for events that sound, highlight or are encrypted (Synapse).
 */
export function notifyBody(n: NotifyInput): JsonObject {
  const { url: _url, ...data } = n.pusher.data;
  const device: JsonObject = {
    app_id: n.pusher.app_id,
    pushkey: n.pusher.pushkey,
    pushkey_ts: Math.floor(n.pusher.created_ts / 1000),
    data,
    tweaks: n.tweaks,
  };
  const counts: JsonObject = n.unread > 0 ? { unread: n.unread } : {};
  const e = n.event;
  const notification: JsonObject = { event_id: e.event_id, room_id: e.room_id, counts, devices: [device] };
  if (data.format !== "event_id_only") {
    notification.type = e.type;
    notification.sender = e.sender;
    if (n.senderDisplayName !== undefined) notification.sender_display_name = n.senderDisplayName;
    if (n.roomName !== undefined) notification.room_name = n.roomName;
    if (n.roomAlias !== undefined) notification.room_alias = n.roomAlias;
    if (e.type === "m.room.member") notification.user_is_target = e.state_key === n.userId;
    notification.content = e.content;
  }
  const loud = n.tweaks.sound !== undefined || n.tweaks.highlight === true || e.type === "m.room.encrypted";
  notification.prio = loud ? "high" : "low";
  return { notification };
}

/** The pushkeys a gateway rejected (its 200 answer's `rejected`); anything malformed is none. */
export function rejectedPushkeys(answer: unknown): string[] {
  if (typeof answer !== "object" || answer === null) return [];
  const r = (answer as { rejected?: unknown }).rejected;
  return Array.isArray(r) ? r.filter((k): k is string => typeof k === "string") : [];
}
