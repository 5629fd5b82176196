/**
 * matrix-js-sdk against the real server: push rules fetched and changed through
 * the SDK, and unread counts (room and thread) as the SDK reads them from /sync.
 */
import { describe, expect, it } from "vitest";
import { NotificationCountType, PushRuleKind, THREAD_RELATION_TYPE } from "matrix-js-sdk";
import { registerClient, uniqueName, useServer, waitFor, startClientAndWait } from "./harness.js";

const hs = useServer();

const started = startClientAndWait;

describe("push with matrix-js-sdk", () => {
  it("reads and changes push rules", async () => {
    const alice = await started(await registerClient(hs.baseUrl, uniqueName("alice"), "pw"));
    const rules = await alice.getPushRules();
    expect(rules.global.override?.[0]?.rule_id).toBe(".m.rule.master");
    await alice.addPushRule("global", PushRuleKind.ContentSpecific, "cake", { pattern: "cake", actions: ["notify"] } as never);
    await waitFor(() => alice.pushRules?.global.content?.some((r) => r.rule_id === "cake"), { what: "m.push_rules in sync" });
    await alice.setPushRuleEnabled("global", PushRuleKind.Override, ".m.rule.master", true);
    await waitFor(() => alice.pushRules?.global.override?.find((r) => r.rule_id === ".m.rule.master")?.enabled === true, { what: "master enabled" });
  });

  it("shows room and thread unread counts, and clears them on read receipts", async () => {
    const alice = await started(await registerClient(hs.baseUrl, uniqueName("alice"), "pw"));
    const bob = await started(await registerClient(hs.baseUrl, uniqueName("bob"), "pw"));
    const carol = await registerClient(hs.baseUrl, uniqueName("carol"), "pw");
    const { room_id: roomId } = await alice.createRoom({ preset: "public_chat" as never });
    await bob.joinRoom(roomId);
    await carol.joinRoom(roomId);
    await alice.sendTextMessage(roomId, "one");
    const mention = await alice.sendMessage(roomId, { msgtype: "m.text", body: "hey bob", "m.mentions": { user_ids: [bob.getUserId()!] } } as never);
    const room = await waitFor(() => bob.getRoom(roomId));
    await waitFor(() => room.getUnreadNotificationCount(NotificationCountType.Total) === 2, { what: "two unread" });
    expect(room.getUnreadNotificationCount(NotificationCountType.Highlight)).toBe(1);
    const root = mention.event_id;
    const { event_id: inThread } = await alice.sendMessage(roomId, root, { msgtype: "m.text", body: "in thread", "m.relates_to": { rel_type: THREAD_RELATION_TYPE.name, event_id: root } } as never);
    await waitFor(() => room.getThreadUnreadNotificationCount(root, NotificationCountType.Total) === 1, { what: "thread count" });
    // With threads, the room's own count is the main timeline's (MSC3773); the SDK's total adds the threads.
    expect(room.getRoomUnreadNotificationCount(NotificationCountType.Total)).toBe(2);
    expect(room.getUnreadNotificationCount(NotificationCountType.Total)).toBe(3);
    // A receipt on the main timeline's last event (the SDK sends it threaded, thread_id "main").
    const lastMain = await waitFor(() => room.findEventById(root));
    await bob.sendReadReceipt(lastMain);
    await waitFor(() => room.getRoomUnreadNotificationCount(NotificationCountType.Total) === 0, { what: "main timeline read" });
    expect(room.getThreadUnreadNotificationCount(root, NotificationCountType.Total)).toBe(1);
    // Then the thread.
    const threadEvent = await waitFor(() => room.findEventById(inThread));
    await bob.sendReadReceipt(threadEvent);
    await waitFor(() => room.getUnreadNotificationCount(NotificationCountType.Total) === 0, { what: "everything read" });
  });
});
