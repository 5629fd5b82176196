import { describe, expect, it } from "vitest";
import { type Children, bundledRelations, compareReplacements, isValidReplacement, latestReplacement } from "../../src/aggregations.js";
import type { JsonObject } from "../../src/json.js";
import { memberMatches } from "../../src/room-members.js";

const original: JsonObject = { event_id: "$orig", room_id: "!r:x", sender: "@a:x", type: "m.room.message", origin_server_ts: 1, content: { body: "hi" } };
const edit = (id: string, ts: number, extra: JsonObject = {}): JsonObject => ({
  event_id: id,
  room_id: "!r:x",
  sender: "@a:x",
  type: "m.room.message",
  origin_server_ts: ts,
  content: { body: "* hey", "m.new_content": { body: "hey" }, "m.relates_to": { rel_type: "m.replace", event_id: "$orig" } },
  ...extra,
});
const empty = (): Children => ({ edits: new Map(), threads: new Map(), references: new Map() });

describe("m.replace aggregation", () => {
  it("validates replacements (spec 'Validity of replacement events')", () => {
    expect(isValidReplacement(original, edit("$e", 2))).toBe(true);
    expect(isValidReplacement(original, edit("$e", 2, { sender: "@b:x" }))).toBe(false);
    expect(isValidReplacement(original, edit("$e", 2, { type: "m.sticker" }))).toBe(false);
    expect(isValidReplacement(original, edit("$e", 2, { room_id: "!other:x" }))).toBe(false);
    expect(isValidReplacement(original, edit("$e", 2, { content: { "m.relates_to": { rel_type: "m.replace", event_id: "$orig" } } }))).toBe(false);
    expect(isValidReplacement({ ...original, state_key: "" }, edit("$e", 2, { state_key: "" }))).toBe(false);
    const editOfEdit = { ...original, content: { "m.relates_to": { rel_type: "m.replace", event_id: "$x" } } };
    expect(isValidReplacement(editOfEdit, edit("$e", 2))).toBe(false);
    // Encrypted edits carry m.new_content in the ciphertext.
    const enc = { ...original, type: "m.room.encrypted" };
    expect(isValidReplacement(enc, edit("$e", 2, { type: "m.room.encrypted", content: { ciphertext: "…", "m.relates_to": { rel_type: "m.replace", event_id: "$orig" } } }))).toBe(true);
  });
  it("picks the most recent by origin_server_ts, then the largest event id", () => {
    expect([edit("$a", 5), edit("$c", 5), edit("$b", 9)].sort(compareReplacements).map((e) => e.event_id)).toEqual(["$b", "$c", "$a"]);
    expect(latestReplacement(original, [edit("$new", 9, { sender: "@b:x" }), edit("$old", 3)])?.event_id).toBe("$old");
  });
  it("never bundles edits with a redacted original", () => {
    expect(latestReplacement({ ...original, unsigned: { redacted_because: {} } }, [edit("$e", 2)])).toBeUndefined();
  });
});

describe("bundledRelations", () => {
  it("bundles edits, thread summaries and references; none for state events", () => {
    const c = empty();
    c.edits.set("$orig", [edit("$e", 2)]);
    c.threads.set("$orig", { latest: { event_id: "$t2" }, count: 2, participated: false });
    c.references.set("$orig", ["$r1", "$r2"]);
    expect(bundledRelations(original, "@b:x", c)).toEqual({
      "m.replace": edit("$e", 2),
      "m.thread": { latest_event: { event_id: "$t2" }, count: 2, current_user_participated: false },
      "m.reference": { chunk: [{ event_id: "$r1" }, { event_id: "$r2" }] },
    });
    // The root's sender took part in the thread.
    expect((bundledRelations(original, "@a:x", c)!["m.thread"] as JsonObject).current_user_participated).toBe(true);
    expect(bundledRelations({ ...original, state_key: "" }, "@a:x", c)).toBeUndefined();
    expect(bundledRelations(original, "@a:x", empty())).toBeUndefined();
  });
});

describe("members filter", () => {
  it("membership and not_membership combine with 'or'", () => {
    expect(memberMatches("join", undefined, undefined)).toBe(true);
    expect(memberMatches("join", "join", undefined)).toBe(true);
    expect(memberMatches("invite", "join", undefined)).toBe(false);
    expect(memberMatches("leave", undefined, "leave")).toBe(false);
    expect(memberMatches("ban", undefined, "leave")).toBe(true);
    expect(memberMatches("leave", "leave", "leave")).toBe(true);
    expect(memberMatches("join", "invite", "join")).toBe(false);
    expect(memberMatches("ban", "invite", "join")).toBe(true);
  });
});
