/**
 * The Room Durable Object's event pipeline, one step at a time, inside a real
 * Room DO: authorise (durable-objects/room/authorize.ts) and persist
 * (durable-objects/room/persist.ts), the steps the local send path and received
 * PDUs share.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { authorizeAgainst, checkLocalRedaction, currentAuthRows } from "../../durable-objects/room/authorize.js";
import { persistEvent } from "../../durable-objects/room/persist.js";
import { RoomStore } from "../../durable-objects/room/room-store.js";
import { getServerKeys } from "../../services/server-keys.js";
import { buildEvent, type EventTemplate, type SigningKeyMaterial } from "../../src/event-builder.js";
import { MatrixError } from "../../src/errors.js";
import { getRoomVersion } from "../../src/room-versions.js";
import { callJson, registerUser } from "./helpers.js";
import { createRoom, enc, membership, messages, text, v3 } from "./room-reads-helpers.js";

async function keyMaterial(): Promise<SigningKeyMaterial> {
  const k = await getServerKeys(env);
  return { serverName: env.SERVER_NAME, keyId: k.keyId, seed: k.seed };
}

/** Builds an event on the room's current extremities with the auth events the rules ask for. */
function build(store: RoomStore, roomId: string, t: EventTemplate, key: SigningKeyMaterial) {
  const version = getRoomVersion(store.getMeta("room_version")!)!;
  const ref = (r: { event_id: string }) => ({ eventId: r.event_id, pdu: store.pduOf(store.eventById(r.event_id)!) });
  const authRows = currentAuthRows(store, version, t);
  const ev = buildEvent(version, t, { roomId, prev: store.extremities().map(ref), auth: authRows.map(ref), key });
  return { version, ev, authRows };
}

function forbidden(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof MatrixError) return `${e.status} ${e.errcode}`;
    throw e;
  }
  return "allowed";
}

describe("room event pipeline steps", () => {
  it("authorise: current auth events, the rules' verdict, and the redaction power check", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const stranger = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await membership(bob, roomId, "join");
    const aliceMsg = await text(alice, roomId, "alice's");
    const key = await keyMaterial();
    await runInDurableObject(env.ROOM.getByName(roomId), (_o, state) => {
      const store = new RoomStore(state.storage.sql);
      const content = { msgtype: "m.text", body: "hi" };
      // A message cites power levels and its sender's membership (v12: never the create event).
      const member = build(store, roomId, { type: "m.room.message", sender: bob.userId, content }, key);
      expect(member.authRows.map((r) => [r.type, r.state_key])).toEqual(
        expect.arrayContaining([
          ["m.room.power_levels", ""],
          ["m.room.member", bob.userId],
        ]),
      );
      expect(member.authRows.some((r) => r.type === "m.room.create")).toBe(false);
      expect(forbidden(() => authorizeAgainst(store, member.version, member.ev, member.authRows))).toBe("allowed");
      // Someone who never joined may not send.
      const outsider = build(store, roomId, { type: "m.room.message", sender: stranger.userId, content }, key);
      expect(forbidden(() => authorizeAgainst(store, outsider.version, outsider.ev, outsider.authRows))).toBe("403 M_FORBIDDEN");
      // Bob (power 0) may send a redaction (the auth rules allow it) but not of alice's event.
      const redaction = build(store, roomId, { type: "m.room.redaction", sender: bob.userId, content: { redacts: aliceMsg } }, key);
      const authState = authorizeAgainst(store, redaction.version, redaction.ev, redaction.authRows);
      expect(forbidden(() => checkLocalRedaction(store, redaction.version, redaction.ev.pdu, authState))).toBe("403 M_FORBIDDEN");
      const own = build(store, roomId, { type: "m.room.redaction", sender: alice.userId, content: { redacts: aliceMsg } }, key);
      const ownState = authorizeAgainst(store, own.version, own.ev, own.authRows);
      expect(forbidden(() => checkLocalRedaction(store, own.version, own.ev.pdu, ownState))).toBe("allowed");
    });
  });

  it("persist: the event becomes the only forward extremity, state advances, the outbox and the txn record hold it", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice, { preset: "private_chat" });
    const key = await keyMaterial();
    await runInDurableObject(env.ROOM.getByName(roomId), (_o, state) => {
      const store = new RoomStore(state.storage.sql);
      const topic = build(store, roomId, { type: "m.room.topic", state_key: "", sender: alice.userId, content: { topic: "persisted" } }, key);
      authorizeAgainst(store, topic.version, topic.ev, topic.authRows);
      const pending = store.pendingOutbox(100).length;
      state.storage.transactionSync(() => persistEvent(store, topic.version, topic.ev, { txn: { deviceId: "DEV", txnId: "t1", key: "state\u0000t1" } }));
      expect(store.extremities().map((r) => r.event_id)).toEqual([topic.ev.eventId]);
      expect(store.currentStateEvent("m.room.topic", "")?.event_id).toBe(topic.ev.eventId);
      expect(store.txnEvent(alice.userId, "DEV", "state\u0000t1")).toBe(topic.ev.eventId);
      const outbox = store.pendingOutbox(100);
      expect(outbox.length).toBe(pending + 1);
      expect(store.eventByNid(outbox.at(-1)!.event_nid)!.event_id).toBe(topic.ev.eventId);
      // The next event builds on it.
      const next = build(store, roomId, { type: "m.room.message", sender: alice.userId, content: { msgtype: "m.text", body: "after" } }, key);
      expect(next.ev.pdu.prev_events).toEqual([topic.ev.eventId]);
    });
  });

  it("a transaction id is scoped to its endpoint: the same txnId on /send of another type or on /redact is a new request", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice, { preset: "private_chat" });
    const put = async (path: string, json: unknown) => {
      const r = await callJson<{ event_id: string }>(v3(roomId, path), { method: "PUT", token: alice.accessToken, json });
      expect(r.status).toBe(200);
      return r.body.event_id;
    };
    const msg = await put("send/m.room.message/same", { msgtype: "m.text", body: "one" });
    // A retry on the same path is the same event.
    expect(await put("send/m.room.message/same", { msgtype: "m.text", body: "one" })).toBe(msg);
    const other = await put(`send/${enc("org.example.custom")}/same`, { n: 1 });
    expect(other).not.toBe(msg);
    const redaction = await put(`redact/${enc(msg)}/same`, {});
    expect([msg, other]).not.toContain(redaction);
    expect(await put(`redact/${enc(msg)}/same`, {})).toBe(redaction);
    const page = await messages(alice, roomId, { dir: "b", limit: 10 });
    const mine = page.body.chunk.filter((e) => e.unsigned?.transaction_id === "same").map((e) => e.event_id);
    expect(mine).toEqual([redaction, other, msg]);
    // The message is redacted: the redaction really happened.
    expect(page.body.chunk.find((e) => e.event_id === msg)!.content).toEqual({});
    expect(page.body.chunk.find((e) => e.event_id === msg)!.unsigned).toMatchObject({ redacted_by: redaction, redacted_because: { event_id: redaction } });
    // The old form without a txnId (POST, r0) redacts too: each call is a new redaction.
    const post = await callJson<{ event_id: string }>(`/_matrix/client/r0/rooms/${enc(roomId)}/redact/${enc(other)}`, { method: "POST", token: alice.accessToken, json: { reason: "old client" } });
    expect(post.status).toBe(200);
    expect(post.body.event_id).not.toBe(redaction);
  });
});
