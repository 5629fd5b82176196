/**
 * matrix-js-sdk (legacy /sync) against the real server: create, join, send,
 * receive through sync, paginate, thread, redact, receipts, typing.
 */
import { describe, expect, it } from "vitest";
import { EventType, MsgType, type MatrixClient, type MatrixEvent, RoomEvent, RoomMemberEvent, ReceiptType, THREAD_RELATION_TYPE } from "matrix-js-sdk";
import { registerClient, uniqueName, useServer, waitFor, startClientAndWait } from "./harness.js";

const hs = useServer();

const started = startClientAndWait;

function timelineBodies(client: MatrixClient, roomId: string): string[] {
  return (client.getRoom(roomId)?.getLiveTimeline().getEvents() ?? [])
    .filter((e: MatrixEvent) => e.getType() === EventType.RoomMessage)
    .map((e: MatrixEvent) => e.getContent().body as string);
}

describe("rooms and legacy sync with matrix-js-sdk", () => {
  it("create, invite, join, send and receive through /sync", async () => {
    const alice = await started(await registerClient(hs.baseUrl, uniqueName("alice"), "pw-alice"));
    const bob = await started(await registerClient(hs.baseUrl, uniqueName("bob"), "pw-bob"));
    const { room_id: roomId } = await alice.createRoom({ name: "E2E room", invite: [bob.getUserId()!] });
    await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === "invite", { what: "bob sees the invite" });
    await bob.joinRoom(roomId);
    await waitFor(() => alice.getRoom(roomId)?.getMember(bob.getUserId()!)?.membership === "join", { what: "alice sees bob join" });
    await alice.sendTextMessage(roomId, "hello bob");
    await waitFor(() => timelineBodies(bob, roomId).includes("hello bob"), { what: "bob receives the message" });
    await bob.sendTextMessage(roomId, "hi alice");
    await waitFor(() => timelineBodies(alice, roomId).includes("hi alice"), { what: "alice receives the reply" });
    expect(bob.getRoom(roomId)?.name).toBe("E2E room");
  });

  it("paginates history backwards with /messages", async () => {
    const alice = await registerClient(hs.baseUrl, uniqueName("alice"), "pw");
    const { room_id: roomId } = await alice.createRoom({});
    for (let i = 0; i < 30; i++) await alice.sendTextMessage(roomId, `m${i}`);
    await started(alice);
    const room = await waitFor(() => alice.getRoom(roomId));
    const timeline = room.getLiveTimeline();
    while (await alice.paginateEventTimeline(timeline, { backwards: true, limit: 10 })) {
      /* keep going until the start of the room */
    }
    expect(timelineBodies(alice, roomId)).toEqual(Array.from({ length: 30 }, (_, i) => `m${i}`));
    expect(timeline.getEvents()[0]?.getType()).toBe(EventType.RoomCreate);
  });

  it("threads, redactions, receipts and typing", async () => {
    const alice = await started(await registerClient(hs.baseUrl, uniqueName("alice"), "pw"));
    const bob = await started(await registerClient(hs.baseUrl, uniqueName("bob"), "pw"));
    const { room_id: roomId } = await alice.createRoom({ invite: [bob.getUserId()!] });
    await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === "invite");
    await bob.joinRoom(roomId);
    // What reaches Bob live through the SDK's timeline event (from /sync, not pagination).
    const liveForBob: MatrixEvent[] = [];
    bob.on(RoomEvent.Timeline, (event, room, toStartOfTimeline, _removed, data) => {
      if (room?.roomId === roomId && !toStartOfTimeline && data.liveEvent) liveForBob.push(event);
    });
    const root = await alice.sendTextMessage(roomId, "thread root");
    const arrived = await waitFor(() => liveForBob.find((e) => e.getId() === root.event_id), { what: "alice's message reaches bob as a live timeline event" });
    expect([arrived.getSender(), arrived.getType(), arrived.getContent().body]).toEqual([alice.getUserId(), EventType.RoomMessage, "thread root"]);
    await bob.sendMessage(roomId, {
      msgtype: MsgType.Text,
      body: "in thread",
      "m.relates_to": { rel_type: THREAD_RELATION_TYPE.name, event_id: root.event_id, is_falling_back: true, "m.in_reply_to": { event_id: root.event_id } },
    } as never);
    const thread = await waitFor(() => alice.getRoom(roomId)?.getThread(root.event_id), { what: "alice sees the thread" });
    await waitFor(() => thread.length >= 1 || (thread.replyToEvent?.getContent().body === "in thread"), { what: "thread reply" });

    const doomed = await bob.sendTextMessage(roomId, "oops");
    await waitFor(() => alice.getRoom(roomId)?.findEventById(doomed.event_id));
    await bob.redactEvent(roomId, doomed.event_id, undefined, { reason: "typo" });
    await waitFor(() => alice.getRoom(roomId)?.findEventById(doomed.event_id)?.isRedacted(), { what: "alice sees the redaction" });

    const last = await waitFor(() => alice.getRoom(roomId)?.findEventById(doomed.event_id));
    await alice.sendReadReceipt(last, ReceiptType.Read);
    await waitFor(() => bob.getRoom(roomId)?.getEventReadUpTo(alice.getUserId()!) === doomed.event_id, { what: "bob sees alice's receipt" });

    const typing = new Promise<void>((resolve) =>
      bob.on(RoomMemberEvent.Typing, (_e, member) => {
        if (member.roomId === roomId && member.userId === alice.getUserId() && member.typing) resolve();
      }),
    );
    await alice.sendTyping(roomId, true, 10_000);
    await typing;
    expect(bob.getRoom(roomId)?.getMember(alice.getUserId()!)?.typing).toBe(true);
  });
});
