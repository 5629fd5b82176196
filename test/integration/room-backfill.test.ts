/**
 * Backfill inside a real Room DO (durable-objects/room/backfill.ts): a room that
 * lives on another server, joined by one of our users (importJoin), gets its
 * history handed in batch by batch as the Worker would after /backfill — steps
 * 4 and 5 decide, the current state and the forward extremities never move, and
 * D1 gets the events below every stream position, oldest lowest.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { RoomStore } from "../../durable-objects/room/room-store.js";
import type { BackfillResult, RoomApi } from "../../services/room-api.js";
import { authTypesForEvent } from "../../src/auth-rules.js";
import { type EventTemplate, buildEvent } from "../../src/event-builder.js";
import { roomIdFromCreateEvent } from "../../src/event-id.js";
import { type Pdu, type StoredEvent, stateKey } from "../../src/pdu.js";
import { unwrap } from "../../src/room-result.js";
import { getRoomVersion } from "../../src/room-versions.js";
import { registerUser } from "./helpers.js";
import { type Ev, bodies, ok, v3 } from "./room-reads-helpers.js";

const version = getRoomVersion("12")!;
const KEY = { serverName: "remote.example", keyId: "ed25519:r1", seed: new Uint8Array(32).fill(7) };
const carl = "@carl:remote.example";
const mallory = "@mallory:remote.example";

/** A room's history as another server built it: each event on the last one, citing the auth events of the state so far. */
class History {
  roomId = "";
  readonly state = new Map<string, StoredEvent>();
  private last: StoredEvent | undefined;

  add(t: EventTemplate, opts: { prev?: StoredEvent[]; state?: Map<string, StoredEvent> } = {}): StoredEvent {
    const state = opts.state ?? this.state;
    const auth = authTypesForEvent(version, { ...t, prev_events: [], auth_events: [] } as unknown as Pdu).flatMap(([ty, sk]) => {
      const e = state.get(stateKey(ty, sk));
      return e ? [e] : [];
    });
    const ev = buildEvent(version, t, { roomId: t.type === "m.room.create" ? undefined : this.roomId, prev: opts.prev ?? (this.last ? [this.last] : []), auth, key: KEY });
    if (t.type === "m.room.create") this.roomId = roomIdFromCreateEvent(ev.pdu, version);
    if (!opts.prev) {
      this.last = ev;
      if (t.state_key !== undefined) this.state.set(stateKey(t.type, t.state_key), ev);
    }
    return ev;
  }

  msg(sender: string, body: string): StoredEvent {
    return this.add({ type: "m.room.message", sender, content: { msgtype: "m.text", body } });
  }
}

describe("backfill in the Room DO", () => {
  it("checks each batch against its auth events and the state before it, stores it as history below everything", async () => {
    const me = await registerUser();
    const h = new History();
    const create = h.add({ type: "m.room.create", sender: carl, state_key: "", content: { room_version: "12" } });
    const carlJoin = h.add({ type: "m.room.member", sender: carl, state_key: carl, content: { membership: "join" } });
    const pl = h.add({ type: "m.room.power_levels", sender: carl, state_key: "", content: { users: {} } }); // v12: the creator holds all power and is not listed
    const jr = h.add({ type: "m.room.join_rules", sender: carl, state_key: "", content: { join_rule: "public" } });
    const hv = h.add({ type: "m.room.history_visibility", sender: carl, state_key: "", content: { history_visibility: "shared" } });
    const m1 = h.msg(carl, "m1");
    const m2 = h.msg(carl, "m2");
    const stateAtM2 = new Map(h.state);
    const t1 = h.add({ type: "m.room.topic", sender: carl, state_key: "", content: { topic: "t1" } });
    const m3 = h.msg(carl, "m3");
    const malloryJoin = h.add({ type: "m.room.member", sender: mallory, state_key: mallory, content: { membership: "join" } });
    const m4 = h.msg(mallory, "m4");
    const m5 = h.msg(carl, "m5");
    const t2 = h.add({ type: "m.room.topic", sender: carl, state_key: "", content: { topic: "t2" } });
    const myJoin = h.add({ type: "m.room.member", sender: me.userId, state_key: me.userId, content: { membership: "join" } });
    // Not history anyone sent: mallory "before she joined" citing her later join (passes step 4, fails step 5),
    // and someone never in the room (fails step 4).
    const early = h.add({ type: "m.room.message", sender: mallory, content: { msgtype: "m.text", body: "early" } }, { prev: [m2], state: new Map([...stateAtM2, [stateKey("m.room.member", mallory), malloryJoin]]) });
    const stranger = h.add({ type: "m.room.message", sender: "@eve:remote.example", content: { msgtype: "m.text", body: "stranger" } }, { prev: [m1], state: stateAtM2 });

    const stub = env.ROOM.getByName(h.roomId) as unknown as RoomApi;
    const current = [create, carlJoin, pl, jr, hv, malloryJoin, t2];
    await unwrap(stub.importJoin({ roomId: h.roomId, roomVersion: "12", join: myJoin, state: current, authChain: current }));
    // A redaction of m2 arrives live before m2 itself: it waits for its target.
    const redaction = h.add({ type: "m.room.redaction", sender: carl, content: { redacts: m2.eventId } }, { prev: [myJoin] });
    expect((await unwrap(stub.receive("remote.example", [redaction]))).outcomes[redaction.eventId]).toEqual({ kind: "accepted" });
    const stateBefore = await stub.currentState();
    const positions = async () => {
      const { results } = await env.DB.prepare("SELECT event_id, stream_pos FROM room_events WHERE room_id = ?").bind(h.roomId).all<{ event_id: string; stream_pos: number }>();
      return new Map(results.map((r) => [r.event_id, r.stream_pos]));
    };
    const gaps = async () =>
      (await env.DB.prepare("SELECT event_id FROM room_backward_extremities WHERE room_id = ?").bind(h.roomId).all<{ event_id: string }>()).results.map((r) => r.event_id);
    // The join's prev event is only an outlier here: the history before the join is to be fetched.
    expect(await gaps()).toEqual([t2.eventId]);

    // The newest part of the history, oldest event first in no particular order. Mallory's join cites m3, which is
    // not here: without the state before it, nothing is stored.
    const batch1 = [t2, m5, malloryJoin, m4];
    let r: BackfillResult = await unwrap(stub.backfill({ events: batch1, states: {}, outliers: [] }));
    expect(r).toEqual({ stored: [], rejected: [], needState: [malloryJoin.eventId], missingAuth: [] });
    // The state the remote names holds t1, unknown here: still nothing; with t1 fetched (as /state would), all of it.
    const beforeMallory = [create, carlJoin, pl, jr, hv, t1].map((e) => e.eventId);
    r = await unwrap(stub.backfill({ events: batch1, states: { [malloryJoin.eventId]: beforeMallory }, outliers: [] }));
    expect(r.stored).toEqual([]);
    expect(r.needState).toEqual([malloryJoin.eventId]);
    r = await unwrap(stub.backfill({ events: batch1, states: { [malloryJoin.eventId]: beforeMallory }, outliers: [t1] }));
    expect(r.stored).toEqual([malloryJoin.eventId, m4.eventId, m5.eventId, t2.eventId]);
    let pos = await positions();
    // Only what the read model lacked is new there, below every stream position, oldest lowest.
    expect(pos.get(m4.eventId)).toBeLessThan(0);
    expect(pos.get(m4.eventId)).toBeLessThan(pos.get(m5.eventId)!);
    expect(pos.get(m5.eventId)).toBeLessThan(0);
    expect(pos.get(t2.eventId)).toBeGreaterThan(0);
    expect(await gaps()).toEqual([m3.eventId]);

    // The rest, back to the room's creation, with the two events that are not history.
    r = await unwrap(stub.backfill({ events: [m3, t1, m2, m1, early, stranger, hv, jr, pl, carlJoin, create], states: {}, outliers: [] }));
    expect(r.stored).toEqual([create, carlJoin, pl, jr, hv, m1, m2, t1, m3].map((e) => e.eventId));
    expect(r.rejected.sort()).toEqual([early.eventId, stranger.eventId].sort());
    pos = await positions();
    const order = [m1, m2, t1, m3, m4, m5].map((e) => pos.get(e.eventId)!);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(order.every((p) => p < 0)).toBe(true);
    expect(pos.has(early.eventId) || pos.has(stranger.eventId)).toBe(false);
    // The room's creation is reached: nothing left to fetch.
    expect(await gaps()).toEqual([]);
    const marks = await env.DB.prepare("SELECT history_visibility FROM room_visibility_marks WHERE room_id = ? ORDER BY stream_pos").bind(h.roomId).all<{ history_visibility: string }>();
    expect(marks.results.map((m) => m.history_visibility)).toEqual(["shared", "shared"]);

    // History moved neither the current state nor the forward extremities.
    expect(await stub.currentState()).toEqual(stateBefore);
    await runInDurableObject(env.ROOM.getByName(h.roomId), (_o, state) => {
      const store = new RoomStore(state.storage.sql);
      expect(store.extremities().map((e) => e.event_id)).toEqual([redaction.eventId]);
      // Step 5 refused the one citing a join that came later; step 4 the one citing nothing that allows it.
      expect(store.eventById(early.eventId)?.rejected).toMatch(/^state before the event/);
      expect(store.eventById(stranger.eventId)?.rejected).toMatch(/^auth events/);
    });
    const room = await env.DB.prepare("SELECT topic FROM rooms WHERE room_id = ?").bind(h.roomId).first<{ topic: string }>();
    expect(room?.topic).toBe("t2");

    // Our user reads it as the room's history, each event with its own state.
    const page = await ok<{ chunk: Ev[] }>(me, v3(h.roomId, "messages?dir=b&limit=50"));
    // m2 arrived redacted: its redaction had been waiting for it.
    expect(bodies(page.chunk.reverse())).toEqual(["m1", undefined, "m3", "m4", "m5"]);
    const topicAt = async (e: StoredEvent) =>
      ((await ok<{ state: Ev[] }>(me, v3(h.roomId, `context/${encodeURIComponent(e.eventId)}?limit=0`))).state.find((s) => s.type === "m.room.topic")?.content.topic as string | undefined);
    expect(await topicAt(m2)).toBeUndefined();
    expect(await topicAt(m3)).toBe("t1");
    expect(await topicAt(m5)).toBe("t1");
    // A second delivery of the same batch changes nothing.
    r = await unwrap(stub.backfill({ events: [m3, m2, m1, early], states: {}, outliers: [] }));
    expect(r).toEqual({ stored: [], rejected: [], needState: [], missingAuth: [] });
  });

  it("an event rejected against the state before it stays in the DAG with that state, so an event citing it is taken", async () => {
    const me = await registerUser();
    const h = new History();
    const create = h.add({ type: "m.room.create", sender: carl, state_key: "", content: { room_version: "12" } });
    const carlJoin = h.add({ type: "m.room.member", sender: carl, state_key: carl, content: { membership: "join" } });
    const pl = h.add({ type: "m.room.power_levels", sender: carl, state_key: "", content: { users: {} } });
    const jr = h.add({ type: "m.room.join_rules", sender: carl, state_key: "", content: { join_rule: "public" } });
    const malloryJoin = h.add({ type: "m.room.member", sender: mallory, state_key: mallory, content: { membership: "join" } });
    const stateWithMallory = new Map(h.state);
    const myJoin = h.add({ type: "m.room.member", sender: me.userId, state_key: me.userId, content: { membership: "join" } });
    const stub = env.ROOM.getByName(h.roomId) as unknown as RoomApi;
    const current = [create, carlJoin, pl, jr, malloryJoin];
    await unwrap(stub.importJoin({ roomId: h.roomId, roomVersion: "12", join: myJoin, state: current, authChain: current }));
    const kick = h.add({ type: "m.room.member", sender: carl, state_key: mallory, content: { membership: "leave" } });
    expect((await unwrap(stub.receive("remote.example", [kick]))).outcomes[kick.eventId]).toEqual({ kind: "accepted" });
    // Mallory after her kick, citing her old join: her auth events allow it (step 4), the state before it does not (step 5).
    const late = h.add({ type: "m.room.message", sender: mallory, content: { msgtype: "m.text", body: "after the kick" } }, { prev: [kick], state: stateWithMallory });
    expect((await unwrap(stub.receive("remote.example", [late]))).outcomes[late.eventId]).toMatchObject({ kind: "rejected" });
    // Carl's next event cites it: its state before is the state before the rejected one (the kick's), not a gap.
    const next = h.add({ type: "m.room.message", sender: carl, content: { msgtype: "m.text", body: "next" } }, { prev: [late] });
    expect((await unwrap(stub.receive("remote.example", [next]))).outcomes[next.eventId]).toEqual({ kind: "accepted" });
    const page = await ok<{ chunk: Ev[] }>(me, v3(h.roomId, "messages?dir=b&limit=20"));
    expect(bodies(page.chunk)).toContain("next");
    expect(bodies(page.chunk)).not.toContain("after the kick");
  });
});
