import { describe, expect, it } from "vitest";
import { notifyBody, rejectedPushkeys } from "../../src/push-notify.js";

const base = {
  event: { event_id: "$e", room_id: "!r:x", type: "m.room.message", sender: "@a:x", content: { body: "hi" } },
  userId: "@b:x",
  senderDisplayName: "A",
  roomName: "Room",
  roomAlias: "#room:x",
  tweaks: {},
  unread: 0,
  pusher: { app_id: "app", pushkey: "k", data: { url: "https://gw/_matrix/push/v1/notify", custom: 1 }, created_ts: 1_700_000_000_123 },
};

describe("push gateway bodies", () => {
  it("carry the event, the device without the url, and omit zero counts", () => {
    expect(notifyBody(base)).toEqual({
      notification: {
        event_id: "$e",
        room_id: "!r:x",
        type: "m.room.message",
        sender: "@a:x",
        sender_display_name: "A",
        room_name: "Room",
        room_alias: "#room:x",
        content: { body: "hi" },
        counts: {},
        prio: "low",
        devices: [{ app_id: "app", pushkey: "k", pushkey_ts: 1_700_000_000, data: { custom: 1 }, tweaks: {} }],
      },
    });
  });
  it("event_id_only keeps ids, counts and devices; sound, highlight and encryption are high priority", () => {
    const b = notifyBody({ ...base, unread: 3, tweaks: { sound: "default" }, pusher: { ...base.pusher, data: { url: "u", format: "event_id_only" } } });
    expect(b).toEqual({ notification: { event_id: "$e", room_id: "!r:x", counts: { unread: 3 }, prio: "high", devices: [expect.objectContaining({ data: { format: "event_id_only" } })] } });
    expect((notifyBody({ ...base, tweaks: { highlight: true } }).notification as any).prio).toBe("high");
    expect((notifyBody({ ...base, event: { ...base.event, type: "m.room.encrypted" } }).notification as any).prio).toBe("high");
  });
  it("say whether the user is the target of a member event", () => {
    const ev = { ...base.event, type: "m.room.member", state_key: "@b:x", content: { membership: "invite" } };
    expect((notifyBody({ ...base, event: ev }).notification as any).user_is_target).toBe(true);
    expect((notifyBody({ ...base, event: { ...ev, state_key: "@c:x" } }).notification as any).user_is_target).toBe(false);
  });
  it("read rejected pushkeys defensively", () => {
    expect(rejectedPushkeys({ rejected: ["a", 1, "b"] })).toEqual(["a", "b"]);
    expect(rejectedPushkeys({ rejected: "a" })).toEqual([]);
    expect(rejectedPushkeys(null)).toEqual([]);
  });
});
