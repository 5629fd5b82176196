import { describe, expect, it } from "vitest";
import {
  LAST_ACTIVE_GRANULARITY_MS,
  OFFLINE_AFTER_MS,
  OFFLINE_GRACE_MS,
  type PresenceRow,
  effectiveState,
  presenceAfterPut,
  presenceAfterSync,
  presenceContent,
  presenceEvent,
  presenceTimeout,
} from "../../src/presence.js";

const U = "@a:x";
const row = (over: Partial<PresenceRow> = {}): PresenceRow => ({ user_id: U, state: "online", status_msg: null, last_active_ts: 1_000, last_seen_ts: 1_000, ...over });

describe("presence content", () => {
  it("formats like Synapse's format_user_presence_state", () => {
    expect(presenceContent(null, 5_000)).toEqual({ presence: "offline" });
    expect(presenceContent(row({ status_msg: "hi" }), 3_000)).toEqual({ presence: "online", last_active_ago: 2_000, status_msg: "hi", currently_active: true });
    expect(presenceContent(row({ state: "unavailable" }), 3_000)).toEqual({ presence: "unavailable", last_active_ago: 2_000 });
    expect(presenceContent(row({ last_active_ts: 0, state: "offline" }), 3_000)).toEqual({ presence: "offline" });
    expect(presenceEvent(row(), 1_000)).toEqual({ type: "m.presence", sender: U, content: { presence: "online", last_active_ago: 0, currently_active: true } });
  });

  it("reads a long-silent user as offline even if the timer is late", () => {
    const late = 1_000 + OFFLINE_AFTER_MS + OFFLINE_GRACE_MS + 1;
    expect(effectiveState(row(), late - 2)).toBe("online");
    expect(effectiveState(row(), late)).toBe("offline");
    expect(presenceContent(row(), late).currently_active).toBeUndefined();
  });
});

describe("presenceAfterSync", () => {
  it("offline leaves presence alone", () => {
    expect(presenceAfterSync(row(), U, "offline", 2_000)).toBeNull();
  });

  it("a first sync creates the row and notifies", () => {
    const u = presenceAfterSync(null, U, "online", 2_000)!;
    expect(u).toEqual({ row: { user_id: U, state: "online", status_msg: null, last_active_ts: 2_000, last_seen_ts: 2_000 }, write: true, notify: true });
  });

  it("an unchanged state within a minute writes nothing", () => {
    expect(presenceAfterSync(row(), U, "online", 1_000 + LAST_ACTIVE_GRANULARITY_MS)).toMatchObject({ write: false, notify: false });
  });

  it("stale timestamps are refreshed without notifying", () => {
    const u = presenceAfterSync(row(), U, "online", 1_001 + LAST_ACTIVE_GRANULARITY_MS)!;
    expect(u).toMatchObject({ write: true, notify: false });
    expect(u.row.last_active_ts).toBe(1_001 + LAST_ACTIVE_GRANULARITY_MS);
  });

  it("state changes notify; unavailable keeps last_active; the status message is kept", () => {
    const u = presenceAfterSync(row({ status_msg: "away" }), U, "unavailable", 2_000)!;
    expect(u).toMatchObject({ write: true, notify: true });
    expect(u.row).toMatchObject({ state: "unavailable", last_active_ts: 1_000, last_seen_ts: 2_000, status_msg: "away" });
    const back = presenceAfterSync(u.row, U, "online", 3_000)!;
    expect(back).toMatchObject({ notify: true, row: { state: "online", last_active_ts: 3_000 } });
  });

  it("coming back after a silence that reads as offline notifies", () => {
    const now = 1_000 + OFFLINE_AFTER_MS + OFFLINE_GRACE_MS + 10;
    expect(presenceAfterSync(row(), U, "online", now)).toMatchObject({ notify: true });
    expect(presenceAfterSync(row({ state: "offline" }), U, "online", 2_000)).toMatchObject({ notify: true });
  });
});

describe("presenceAfterPut", () => {
  it("always writes; notifies on state or message changes only", () => {
    expect(presenceAfterPut(row(), U, "online", null, 2_000)).toMatchObject({ write: true, notify: false });
    expect(presenceAfterPut(row(), U, "online", "hello", 2_000)).toMatchObject({ write: true, notify: true, row: { status_msg: "hello" } });
    expect(presenceAfterPut(row({ status_msg: "hello" }), U, "online", null, 2_000)).toMatchObject({ notify: true, row: { status_msg: null } });
    expect(presenceAfterPut(row(), U, "offline", null, 2_000)).toMatchObject({ notify: true, row: { state: "offline", last_active_ts: 1_000 } });
  });
});

describe("presenceTimeout", () => {
  it("nothing to watch for offline or unknown users", () => {
    expect(presenceTimeout(null, 0, false)).toEqual({ checkAt: null });
    expect(presenceTimeout(row({ state: "offline" }), 0, false)).toEqual({ checkAt: null });
  });

  it("waits until due, then goes offline", () => {
    expect(presenceTimeout(row(), 2_000, false)).toEqual({ checkAt: 1_000 + OFFLINE_AFTER_MS });
    expect(presenceTimeout(row({ state: "unavailable" }), 1_000 + OFFLINE_AFTER_MS, false)).toEqual({ offline: row({ state: "offline" }) });
  });

  it("a sync in flight postpones the timeout", () => {
    const now = 1_000 + OFFLINE_AFTER_MS * 2;
    expect(presenceTimeout(row(), now, true)).toEqual({ checkAt: now + OFFLINE_AFTER_MS });
  });
});
