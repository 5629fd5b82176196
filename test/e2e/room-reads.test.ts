/**
 * The room read endpoints as matrix-js-sdk uses them: state and members,
 * single events, jumping to an event (/context) and paginating from there,
 * timestamp_to_event, relations, the threads list and bundled edits.
 */
import { describe, expect, it } from "vitest";
import { Direction, EventType, type MatrixClient, type MatrixEvent, MsgType, THREAD_RELATION_TYPE } from "matrix-js-sdk";
import { registerClient, startClientAndWait, uniqueName, useServer, waitFor } from "./harness.js";

const hs = useServer();

/** This file's timelines are short: the first sync brings 5 events unless a test says otherwise. */
const started = (client: MatrixClient, initialSyncLimit = 5) => startClientAndWait(client, initialSyncLimit);

const bodiesOf = (events: MatrixEvent[]) => events.filter((e) => e.getType() === EventType.RoomMessage).map((e) => e.getContent().body as string);

describe("room reads with matrix-js-sdk", () => {
  it("state, members, joined rooms, single events and timestamp_to_event", async () => {
    const alice = await registerClient(hs.baseUrl, uniqueName("alice"), "pw");
    const bob = await registerClient(hs.baseUrl, uniqueName("bob"), "pw");
    const { room_id: roomId } = await alice.createRoom({ name: "Reads", preset: "public_chat" as never });
    await bob.joinRoom(roomId);
    const first = await alice.sendTextMessage(roomId, "first");
    expect((await alice.getStateEvent(roomId, EventType.RoomName, "")).name).toBe("Reads");
    const state = await alice.roomState(roomId);
    expect(state.map((e) => e.type)).toContain(EventType.RoomCreate);
    expect(Object.keys((await alice.getJoinedRoomMembers(roomId)).joined).sort()).toEqual([alice.getUserId(), bob.getUserId()].sort());
    expect((await bob.getJoinedRooms()).joined_rooms).toEqual([roomId]);
    const members = await alice.members(roomId, undefined, "leave");
    expect(members.chunk!.map((e) => e.state_key).sort()).toEqual([alice.getUserId(), bob.getUserId()].sort());
    const fetched = await bob.fetchRoomEvent(roomId, first.event_id);
    expect(fetched.content!.body).toBe("first");
    const ts = await bob.timestampToEvent(roomId, (fetched.origin_server_ts as number) - 1, Direction.Forward);
    expect(ts.event_id).toBe(first.event_id);
  });

  it("jumps to an event with /context and paginates both ways from there", async () => {
    const alice = await registerClient(hs.baseUrl, uniqueName("alice"), "pw", { clientOpts: { timelineSupport: true } });
    const { room_id: roomId } = await alice.createRoom({});
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push((await alice.sendTextMessage(roomId, `m${i}`)).event_id);
    await started(alice);
    const room = await waitFor(() => alice.getRoom(roomId));
    const timeline = await alice.getEventTimeline(room.getUnfilteredTimelineSet(), ids[15]!);
    expect(timeline).toBeTruthy();
    expect(bodiesOf(timeline!.getEvents())).toContain("m15");
    for (let i = 0; i < 20 && (await alice.paginateEventTimeline(timeline!, { backwards: true, limit: 7 })); i++) {
      /* to the start of the room */
    }
    // Forwards until the SDK links this timeline to the live one (its forward token is then null).
    for (let i = 0; i < 20 && timeline!.getPaginationToken(Direction.Forward) && (await alice.paginateEventTimeline(timeline!, { backwards: false, limit: 7 })); i++) {
      /* towards the live end */
    }
    const seen: string[] = [];
    for (let t: typeof timeline = timeline; t; t = t.getNeighbouringTimeline(Direction.Forward)) seen.push(...bodiesOf(t.getEvents()));
    expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => `m${i}`));
    expect(timeline!.getEvents()[0]?.getType()).toBe(EventType.RoomCreate);
  });

  it("relations, the threads list and bundled edits", async () => {
    const alice = await registerClient(hs.baseUrl, uniqueName("alice"), "pw");
    const { room_id: roomId } = await alice.createRoom({});
    const root = await alice.sendTextMessage(roomId, "root");
    for (let i = 0; i < 3; i++) {
      await alice.sendMessage(roomId, { msgtype: MsgType.Text, body: `reply ${i}`, "m.relates_to": { rel_type: THREAD_RELATION_TYPE.name, event_id: root.event_id } } as never);
    }
    const original = await alice.sendTextMessage(roomId, "orignal");
    await alice.sendMessage(roomId, {
      msgtype: MsgType.Text,
      body: "* original",
      "m.new_content": { msgtype: MsgType.Text, body: "original" },
      "m.relates_to": { rel_type: "m.replace", event_id: original.event_id },
    } as never);
    for (let i = 0; i < 6; i++) await alice.sendTextMessage(roomId, `later ${i}`);

    const rel = await alice.relations(roomId, root.event_id, THREAD_RELATION_TYPE.name);
    expect(rel.events.map((e) => e.getContent().body)).toEqual(["reply 2", "reply 1", "reply 0"]);

    await started(alice, 3);
    const room = await waitFor(() => alice.getRoom(roomId));
    // Back-paginate until the original is in the timeline: it arrives with its edit bundled.
    const timeline = room.getLiveTimeline();
    await waitFor(async () => room.findEventById(original.event_id) ?? ((await alice.paginateEventTimeline(timeline, { backwards: true, limit: 5 })), undefined), {
      what: "the original event",
    });
    await waitFor(() => room.findEventById(original.event_id)?.replacingEvent(), { what: "the edit applied" });
    expect(room.findEventById(original.event_id)!.getContent().body).toBe("original");

    const sets = await room.createThreadsTimelineSets();
    await room.fetchRoomThreads();
    await waitFor(() => room.getThread(root.event_id), { what: "the thread from /threads" });
    expect(sets?.[0]).toBeTruthy();
    const thread = room.getThread(root.event_id)!;
    await waitFor(() => thread.length === 3 || undefined, { what: "the thread's reply count" });
    await waitFor(() => thread.initialEventsFetched || undefined, { what: "the thread's events" });
    alice.stopClient();
  });
});
