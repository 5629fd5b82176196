/**
 * History visibility on every path that returns events (client-server-api
 * "History visibility"), for the case review found leaking through /sync: a
 * user who joins a room whose history is `joined` (or `invited`) must see
 * nothing sent before, wherever events are served.
 */
import { describe, expect, it } from "vitest";
import { callJson, registerUser, type TestUser } from "./helpers.js";
import { createRoom, enc, invite, membership, ok, sendEvent, text, v1, v3, type Ev } from "./room-reads-helpers.js";

interface Room {
  timeline: { events: Ev[]; limited: boolean; prev_batch: string };
  state?: { events: Ev[] };
  summary?: Record<string, unknown>;
}
interface SyncBody {
  next_batch: string;
  rooms?: { join?: Record<string, Room>; leave?: Record<string, Room> };
}

async function sync(u: TestUser, params: Record<string, string> = {}): Promise<SyncBody> {
  const r = await callJson<SyncBody>(`/_matrix/client/v3/sync?${new URLSearchParams(params)}`, { token: u.accessToken });
  if (r.status !== 200) throw new Error(`sync ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

const filter = (f: unknown) => JSON.stringify(f);
const joinedFromStart = (visibility: string) => ({
  preset: "public_chat",
  initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: visibility } }],
});

describe("history visibility `joined`: nothing before the join on any read path", () => {
  it("initial /sync, incremental /sync after the join, limited timelines, /context, /search, /initialSync, threads, relations and bundled aggregations", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, joinedFromStart("joined"));
    const secret = await text(alice, roomId, "secret before bob");
    const root = await text(alice, roomId, "secret thread root");
    const reply = await sendEvent(alice, roomId, { msgtype: "m.text", body: "secret reply", "m.relates_to": { rel_type: "m.thread", event_id: root } });
    const edit = await sendEvent(alice, roomId, {
      msgtype: "m.text",
      body: "* secret edit",
      "m.new_content": { msgtype: "m.text", body: "secret edit" },
      "m.relates_to": { rel_type: "m.replace", event_id: secret },
    });
    const hidden = [secret, root, reply, edit];
    const leaks = (body: unknown) => hidden.filter((id) => JSON.stringify(body).includes(id));

    // Incremental sync across the join: bob syncs before joining, joins, syncs again.
    const before = await sync(bob);
    await membership(bob, roomId, "join");
    const after = await sync(bob, { since: before.next_batch });
    const joinedRoom = after.rooms?.join?.[roomId];
    expect(joinedRoom, "the new join is in the incremental sync").toBeDefined();
    expect(leaks(after)).toEqual([]);
    const own = joinedRoom!.timeline.events.at(-1)!;
    expect([own.type, own.state_key, own.content.membership]).toEqual(["m.room.member", bob.userId, "join"]);
    // The room's first events came before any m.room.history_visibility event, so under the
    // default `shared` (as Synapse): visible. Then nothing until his join.
    const types = joinedRoom!.timeline.events.map((e) => e.type);
    expect(types.at(-2)).toBe("m.room.history_visibility");
    expect(types.filter((t) => t === "m.room.message")).toEqual([]);
    // Nothing visible is left out: the timeline is not limited.
    expect(joinedRoom!.timeline.limited).toBe(false);

    // Initial sync: the same.
    const initial = await sync(bob);
    expect(leaks(initial)).toEqual([]);
    expect(initial.rooms!.join![roomId]!.timeline.events.map((e) => e.event_id)).toEqual(joinedRoom!.timeline.events.map((e) => e.event_id));

    // Limited timelines (more than the limit since the join) still never reach back past it,
    // nor do the pages before them.
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) seen.push(await text(alice, roomId, `after ${i}`));
    const limited = await sync(bob, { filter: filter({ room: { timeline: { limit: 2 } } }) });
    const lt = limited.rooms!.join![roomId]!.timeline;
    expect(lt.limited).toBe(true);
    expect(lt.events.map((e) => e.event_id)).toEqual(seen.slice(-2));
    expect(leaks(limited)).toEqual([]);
    const back = await ok(bob, v3(roomId, `messages?dir=b&limit=50&from=${enc(lt.prev_batch)}`));
    expect(leaks(back)).toEqual([]);
    expect(back.chunk.map((e: Ev) => e.event_id).slice(0, 3)).toEqual([seen[1], seen[0], own.event_id]);
    // A timeline limit of 1 with a type filter that matches nothing before the join.
    const typed = await sync(bob, { filter: filter({ room: { timeline: { limit: 1, types: ["m.room.message"] } } }) });
    expect(typed.rooms!.join![roomId]!.timeline.events.map((e) => e.event_id)).toEqual([seen[3]]);
    expect(leaks(typed)).toEqual([]);

    // /context of his join: nothing before it.
    const ctx = await ok(bob, v3(roomId, `context/${enc(own.event_id)}?limit=10`));
    expect(leaks(ctx)).toEqual([]);
    expect(ctx.events_before[0].type).toBe("m.room.history_visibility");
    // /search finds only what he may see.
    const found = await callJson<Record<string, any>>("/_matrix/client/v3/search", {
      method: "POST",
      token: bob.accessToken,
      json: { search_categories: { room_events: { search_term: "secret", event_context: { before_limit: 5, after_limit: 5 } } } },
    });
    expect(found.status).toBe(200);
    expect(found.body.search_categories.room_events.results).toEqual([]);
    const after0 = await callJson<Record<string, any>>("/_matrix/client/v3/search", {
      method: "POST",
      token: bob.accessToken,
      json: { search_categories: { room_events: { search_term: "after", event_context: { before_limit: 10, after_limit: 0 } } } },
    });
    expect(after0.body.search_categories.room_events.count).toBe(4);
    expect(leaks(after0.body)).toEqual([]);
    // /initialSync, /threads, /relations: nothing either.
    expect(leaks(await ok(bob, v3(roomId, "initialSync")))).toEqual([]);
    const threads = await ok(bob, v1(roomId, "threads"));
    expect(threads.chunk).toEqual([]);
    const rel = await callJson(v1(roomId, `relations/${enc(root)}`), { token: bob.accessToken });
    expect(rel.status === 404 || rel.status === 403, `relations of a hidden event: ${rel.status}`).toBe(true);
    // Notifications only ever hold what was pushed to him while joined.
    expect(leaks(await ok(bob, "/_matrix/client/v3/notifications"))).toEqual([]);
  });

  it("a thread reply after leaving is not bundled into the left room's timeline", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, joinedFromStart("joined"));
    await membership(bob, roomId, "join");
    const root = await text(alice, roomId, "root while bob");
    const early = await sendEvent(alice, roomId, { msgtype: "m.text", body: "reply while bob", "m.relates_to": { rel_type: "m.thread", event_id: root } });
    const since = (await sync(bob)).next_batch;
    await membership(bob, roomId, "leave");
    const late = await sendEvent(alice, roomId, { msgtype: "m.text", body: "reply after bob", "m.relates_to": { rel_type: "m.thread", event_id: root } });
    const edit = await sendEvent(alice, roomId, {
      msgtype: "m.text",
      body: "* edited after bob",
      "m.new_content": { msgtype: "m.text", body: "edited after bob" },
      "m.relates_to": { rel_type: "m.replace", event_id: root },
    });

    // Limited (more visible events than the limit), so aggregations are bundled.
    const s = await sync(bob, { since, filter: filter({ room: { timeline: { limit: 3 } } }) });
    const left = s.rooms!.leave![roomId]!;
    expect(left.timeline.limited).toBe(true);
    expect(left.timeline.events.map((e) => e.event_id).slice(0, 2)).toEqual([root, early]);
    expect(left.timeline.events.at(-1)!.content.membership).toBe("leave");
    const body = JSON.stringify(s);
    expect(body).not.toContain(late);
    expect(body).not.toContain(edit);
    // With include_leave on an initial sync, the same.
    const initial = await sync(bob, { filter: filter({ room: { include_leave: true, timeline: { limit: 3 } } }) });
    expect(JSON.stringify(initial.rooms!.leave![roomId])).not.toContain(late);
    expect(JSON.stringify(initial.rooms!.leave![roomId])).not.toContain(edit);
  });
});

describe("history visibility `invited`", () => {
  it("/sync shows history from the invite on, once joined; nothing before it", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, joinedFromStart("invited"));
    const before = await text(alice, roomId, "before the invite");
    await invite(alice, roomId, bob);
    const during = await text(alice, roomId, "after the invite");
    const since = (await sync(bob)).next_batch;
    await membership(bob, roomId, "join");
    for (const body of [await sync(bob, { since }), await sync(bob)]) {
      const ids = body.rooms!.join![roomId]!.timeline.events.map((e) => e.event_id);
      expect(ids).toContain(during);
      expect(ids).not.toContain(before);
      expect(JSON.stringify(body)).not.toContain(before);
    }
  });

  it("a rejected invite shows only the user's own membership events, not the room's history", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { preset: "private_chat" }); // shared
    const history = await text(alice, roomId, "members only");
    await invite(alice, roomId, bob);
    const since = (await sync(bob)).next_batch;
    await membership(bob, roomId, "leave");
    const s = await sync(bob, { since });
    const left = s.rooms!.leave![roomId]!;
    expect(left.timeline.events.map((e) => [e.type, e.content.membership])).toEqual([["m.room.member", "leave"]]);
    expect(JSON.stringify(s)).not.toContain(history);
  });
});
