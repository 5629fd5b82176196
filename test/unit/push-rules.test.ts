import { describe, expect, it } from "vitest";
import { MatrixError } from "../../src/errors.js";
import type { JsonObject } from "../../src/json.js";
import { splitPropertyPath, valueAtPath } from "../../src/property-path.js";
import { globMatches } from "../../src/push-glob.js";
import { checkNewRuleId, parseActions, parseConditions, placeRule, ruleFromBody } from "../../src/push-rule-edit.js";
import {
  type PushCondition,
  type PushEvaluationContext,
  type StoredPushRule,
  buildRuleset,
  conditionMatches,
  defaultRules,
  evaluatePushRules,
  memberCountMatches,
  pushOutcome,
} from "../../src/push-rules.js";

const ALICE = "@alice:example.org";

const ctx = (over: Partial<PushEvaluationContext> = {}): PushEvaluationContext => ({
  userId: ALICE,
  displayName: "Alice",
  memberCount: 5,
  senderPowerLevel: 0,
  notificationLevel: () => 50,
  ...over,
});

const msg = (content: JsonObject, extra: JsonObject = {}): JsonObject => ({
  type: "m.room.message",
  sender: "@bob:example.org",
  room_id: "!room:example.org",
  event_id: "$e",
  content,
  ...extra,
});

const evalFor = (ev: JsonObject, c = ctx(), stored: StoredPushRule[] = []) => evaluatePushRules(buildRuleset(ALICE, stored), ev, c);
const ruleOf = (ev: JsonObject, c = ctx(), stored: StoredPushRule[] = []) => evalFor(ev, c, stored)?.rule.rule_id ?? null;

describe("glob matching (appendices 'Glob-style matching', push 'event_match')", () => {
  it("spec example: content.topic 'lunc?*' matches the whole value case-insensitively", () => {
    expect(globMatches("lunc?*", "Lunch plans", "whole")).toBe(true);
    expect(globMatches("lunc?*", "LUNCH", "whole")).toBe(true);
    expect(globMatches("lunc?*", " lunch", "whole")).toBe(false);
    expect(globMatches("lunc?*", "lunc", "whole")).toBe(false);
  });

  it("spec example: content.body 'ex*ple' matches substrings at word boundaries", () => {
    expect(globMatches("ex*ple", "An example event.", "word")).toBe(true);
    expect(globMatches("ex*ple", "exple", "word")).toBe(true);
    expect(globMatches("ex*ple", "An exciting triple-whammy", "word")).toBe(true);
    expect(globMatches("ex*ple", "An examples event", "word")).toBe(false);
    expect(globMatches("ex*ple", "text example", "word")).toBe(true);
    expect(globMatches("ex*ple", "textexample", "word")).toBe(false);
  });

  it("words: boundaries are start/end or characters outside [A-Za-z0-9_]", () => {
    expect(globMatches("simple", "some simple.", "word")).toBe(true);
    expect(globMatches("simple", "simple", "word")).toBe(true);
    expect(globMatches("simple", "simples", "word")).toBe(false);
    expect(globMatches("simple", "simple_", "word")).toBe(false);
    expect(globMatches("simple", "(SIMPLE)", "word")).toBe(true);
    expect(globMatches("@user:foo", "Some @user:foo test", "word")).toBe(true);
    expect(globMatches("@room", "hey @room!", "word")).toBe(true);
    expect(globMatches("cake", "cakes", "word")).toBe(false);
    expect(globMatches("cake*lie", "the cake is a lie", "word")).toBe(true);
  });

  it("'?' is exactly one character (a code point), '*' zero or more", () => {
    expect(globMatches("a?c", "abc", "whole")).toBe(true);
    expect(globMatches("a?c", "ac", "whole")).toBe(false);
    expect(globMatches("a?c", "a😀c", "whole")).toBe(true);
    expect(globMatches("a*c", "ac", "whole")).toBe(true);
    expect(globMatches("*", "", "whole")).toBe(true);
    expect(globMatches("", "", "whole")).toBe(true);
    expect(globMatches("", "x", "whole")).toBe(false);
    expect(globMatches("m.room.*", "m.room.message", "whole")).toBe(true);
    expect(globMatches("m.room.*", "m.roomXmessage", "whole")).toBe(false); // '.' is literal
    expect(globMatches("[a]", "[a]", "whole")).toBe(true);
  });

  it("many wildcards against a long body stay fast (no backtracking blow-up)", () => {
    const body = "a".repeat(60_000);
    const started = Date.now();
    expect(globMatches("*a*a*a*a*a*a*a*a*b", body, "whole")).toBe(false);
    expect(globMatches("a*a*a*a*a*a*a*a*b", body, "word")).toBe(false);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe("dot-separated property paths", () => {
  it("splits on unescaped dots, unescapes \\. and \\\\", () => {
    expect(splitPropertyPath("content.body")).toEqual(["content", "body"]);
    expect(splitPropertyPath("content.m\\.relates_to.rel_type")).toEqual(["content", "m.relates_to", "rel_type"]);
    expect(splitPropertyPath("content.m\\\\foo")).toEqual(["content", "m\\foo"]);
    expect(splitPropertyPath("content.m\\x")).toEqual(["content", "m\\x"]);
  });
  it("reads values; missing steps are undefined", () => {
    const ev = { content: { "m.mentions": { user_ids: ["@a:b"] }, n: null } };
    expect(valueAtPath(ev, "content.m\\.mentions.user_ids")).toEqual(["@a:b"]);
    expect(valueAtPath(ev, "content.n")).toBeNull();
    expect(valueAtPath(ev, "content.missing")).toBeUndefined();
    expect(valueAtPath(ev, "content.m\\.mentions.user_ids.0")).toBeUndefined();
  });
});

describe("conditions", () => {
  const c = (cond: JsonObject, ev: JsonObject, over: Partial<PushEvaluationContext> = {}) => conditionMatches(cond as PushCondition, ev, ctx(over));

  it("event_match: absent or non-string values never match, even '*'", () => {
    const ev = { type: "m.room.topic", content: { topic: "Lunch plans", n: 5 } };
    expect(c({ kind: "event_match", key: "content.topic", pattern: "lunc?*" }, ev)).toBe(true);
    expect(c({ kind: "event_match", key: "content.n", pattern: "*" }, ev)).toBe(false);
    expect(c({ kind: "event_match", key: "content.nope", pattern: "*" }, ev)).toBe(false);
    expect(c({ kind: "event_match", key: "content.topic" }, ev)).toBe(false);
  });

  it("event_property_is: spec example m.federate, exact types", () => {
    const ev = { type: "m.room.create", content: { "m.federate": true, s: "true", i: 1 } };
    expect(c({ kind: "event_property_is", key: "content.m\\.federate", value: true }, ev)).toBe(true);
    expect(c({ kind: "event_property_is", key: "content.s", value: true }, ev)).toBe(false);
    expect(c({ kind: "event_property_is", key: "content.i", value: true }, ev)).toBe(false);
    expect(c({ kind: "event_property_is", key: "content.i", value: 1 }, ev)).toBe(true);
    expect(c({ kind: "event_property_is", key: "content.none", value: null }, ev)).toBe(false);
    expect(c({ kind: "event_property_is", key: "content.n", value: null }, { content: { n: null } })).toBe(true);
  });

  it("event_property_contains: spec example alt_aliases", () => {
    const ev = { content: { alias: "#somewhere:localhost", alt_aliases: ["#somewhere:example.org", "#myroom:example.com", { x: 1 }] } };
    expect(c({ kind: "event_property_contains", key: "content.alt_aliases", value: "#myroom:example.com" }, ev)).toBe(true);
    expect(c({ kind: "event_property_contains", key: "content.alt_aliases", value: ":example.com" }, ev)).toBe(false);
    expect(c({ kind: "event_property_contains", key: "content.alias", value: "#somewhere:localhost" }, ev)).toBe(false);
  });

  it("contains_display_name: the display name as a word in the body, literally", () => {
    expect(c({ kind: "contains_display_name" }, msg({ body: "hi alice, how are you" }))).toBe(true);
    expect(c({ kind: "contains_display_name" }, msg({ body: "hi alicex" }))).toBe(false);
    expect(c({ kind: "contains_display_name" }, msg({ body: "hi alice" }), { displayName: "" })).toBe(false);
    expect(c({ kind: "contains_display_name" }, msg({ body: "hi alice" }), { displayName: undefined })).toBe(false);
    expect(c({ kind: "contains_display_name" }, msg({ body: "hi al" }), { displayName: "a*" })).toBe(false);
    expect(c({ kind: "contains_display_name" }, msg({ body: "ping a* now" }), { displayName: "a*" })).toBe(true);
  });

  it("room_member_count: ==, <, >, >=, <= and no prefix", () => {
    expect(memberCountMatches("2", 2)).toBe(true);
    expect(memberCountMatches("==2", 3)).toBe(false);
    expect(memberCountMatches("<2", 1)).toBe(true);
    expect(memberCountMatches(">2", 2)).toBe(false);
    expect(memberCountMatches(">=10", 10)).toBe(true);
    expect(memberCountMatches("<=10", 11)).toBe(false);
    expect(memberCountMatches("=>2", 2)).toBe(false);
    expect(memberCountMatches("two", 2)).toBe(false);
  });

  it("sender_notification_permission compares with notifications[key] (default 50)", () => {
    expect(c({ kind: "sender_notification_permission", key: "room" }, msg({}), { senderPowerLevel: 50 })).toBe(true);
    expect(c({ kind: "sender_notification_permission", key: "room" }, msg({}), { senderPowerLevel: 49 })).toBe(false);
    expect(c({ kind: "sender_notification_permission", key: "room" }, msg({}), { senderPowerLevel: Infinity })).toBe(true);
  });

  it("unrecognised conditions never match", () => {
    expect(c({ kind: "org.example.unknown" }, msg({ body: "x" }))).toBe(false);
  });
});

describe("server-default rules", () => {
  it("are the spec's, in the spec's order, with the user's id substituted", () => {
    const r = buildRuleset(ALICE, []);
    expect(r.override.map((x) => x.rule_id)).toEqual([
      ".m.rule.master",
      ".m.rule.suppress_notices",
      ".m.rule.invite_for_me",
      ".m.rule.member_event",
      ".m.rule.is_user_mention",
      ".m.rule.contains_display_name",
      ".m.rule.is_room_mention",
      ".m.rule.roomnotif",
      ".m.rule.tombstone",
      ".m.rule.reaction",
      ".m.rule.room.server_acl",
      ".m.rule.suppress_edits",
    ]);
    expect(r.content.map((x) => [x.rule_id, x.pattern])).toEqual([[".m.rule.contains_user_name", "alice"]]);
    expect(r.underride.map((x) => x.rule_id)).toEqual([".m.rule.call", ".m.rule.encrypted_room_one_to_one", ".m.rule.room_one_to_one", ".m.rule.message", ".m.rule.encrypted"]);
    expect(r.room).toEqual([]);
    expect(r.sender).toEqual([]);
    expect(r.override[0]).toEqual({ rule_id: ".m.rule.master", default: true, enabled: false, conditions: [], actions: [] });
    expect(r.override.find((x) => x.rule_id === ".m.rule.is_user_mention")).toEqual({
      rule_id: ".m.rule.is_user_mention",
      default: true,
      enabled: true,
      conditions: [{ kind: "event_property_contains", key: "content.m\\.mentions.user_ids", value: ALICE }],
      actions: ["notify", { set_tweak: "sound", value: "default" }, { set_tweak: "highlight" }],
    });
    expect(r.override.find((x) => x.rule_id === ".m.rule.invite_for_me")!.conditions![2]).toEqual({ kind: "event_match", key: "state_key", pattern: ALICE });
    expect(defaultRules(ALICE).underride.every((x) => x.default && x.enabled)).toBe(true);
  });
});

describe("evaluation", () => {
  it("a message in a group notifies (.m.rule.message), in a 1:1 with a sound", () => {
    expect(ruleOf(msg({ msgtype: "m.text", body: "hello" }))).toBe(".m.rule.message");
    const one = evalFor(msg({ msgtype: "m.text", body: "hello" }), ctx({ memberCount: 2 }))!;
    expect(one.rule.rule_id).toBe(".m.rule.room_one_to_one");
    expect(pushOutcome(one.actions)).toEqual({ notify: true, highlight: false, tweaks: { sound: "default" } });
  });

  it("notices, member events, reactions, server ACLs and edits do not notify", () => {
    const events: JsonObject[] = [
      msg({ msgtype: "m.notice", body: "bot says alice" }),
      { type: "m.room.member", state_key: "@carol:example.org", sender: "@carol:example.org", content: { membership: "join" } },
      { type: "m.reaction", sender: "@bob:x", content: { "m.relates_to": { rel_type: "m.annotation", event_id: "$a", key: "👍" } } },
      { type: "m.room.server_acl", state_key: "", sender: "@bob:x", content: { allow: ["*"] } },
      msg({ body: "* fixed", "m.new_content": { body: "fixed" }, "m.relates_to": { rel_type: "m.replace", event_id: "$a" } }),
    ];
    for (const ev of events) {
      const m = evalFor(ev);
      expect(m === null || !pushOutcome(m.actions).notify).toBe(true);
    }
  });

  it("an invite for the user notifies with a sound; others' invites do not", () => {
    const inv = (who: string) => ({ type: "m.room.member", state_key: who, sender: "@bob:x", content: { membership: "invite" } });
    expect(ruleOf(inv(ALICE))).toBe(".m.rule.invite_for_me");
    expect(ruleOf(inv("@carol:example.org"))).toBe(".m.rule.member_event");
  });

  it("intentional user mention highlights (MSC3952 example event)", () => {
    const ev = msg({
      body: "This is an example mention @alice:example.org",
      msgtype: "m.text",
      "m.mentions": { user_ids: [ALICE], room: true },
    });
    const m = evalFor(ev)!;
    expect(m.rule.rule_id).toBe(".m.rule.is_user_mention");
    expect(pushOutcome(m.actions).highlight).toBe(true);
  });

  it("room mention needs the sender's notification power", () => {
    const ev = msg({ body: "everyone!", "m.mentions": { room: true } });
    expect(ruleOf(ev, ctx({ senderPowerLevel: 50 }))).toBe(".m.rule.is_room_mention");
    expect(ruleOf(ev, ctx({ senderPowerLevel: 0 }))).toBe(".m.rule.message");
    expect(ruleOf(ev, ctx({ senderPowerLevel: 10, notificationLevel: () => 10 }))).toBe(".m.rule.is_room_mention");
  });

  it("legacy rules match display name, localpart and @room only without m.mentions", () => {
    expect(ruleOf(msg({ body: "hey Alice!" }))).toBe(".m.rule.contains_display_name");
    expect(ruleOf(msg({ body: "hey alice" }), ctx({ displayName: "Al" }))).toBe(".m.rule.contains_user_name");
    expect(ruleOf(msg({ body: "@room look" }), ctx({ senderPowerLevel: 100 }))).toBe(".m.rule.roomnotif");
    expect(ruleOf(msg({ body: "@room look" }), ctx({ senderPowerLevel: 0 }))).toBe(".m.rule.message");
    // With m.mentions (even empty), body text no longer mentions anyone.
    expect(ruleOf(msg({ body: "hey Alice!", "m.mentions": {} }))).toBe(".m.rule.message");
    expect(ruleOf(msg({ body: "hey alice", "m.mentions": {} }), ctx({ displayName: "Al" }))).toBe(".m.rule.message");
    expect(ruleOf(msg({ body: "@room look", "m.mentions": {} }), ctx({ senderPowerLevel: 100 }))).toBe(".m.rule.message");
  });

  it("tombstones highlight, calls ring, encrypted events notify (1:1 with a sound)", () => {
    const tomb = evalFor({ type: "m.room.tombstone", state_key: "", sender: "@bob:x", content: { body: "moved", replacement_room: "!n:x" } })!;
    expect(tomb.rule.rule_id).toBe(".m.rule.tombstone");
    expect(pushOutcome(tomb.actions).highlight).toBe(true);
    expect(ruleOf({ type: "m.room.tombstone", state_key: "x", sender: "@bob:x", content: {} })).toBeNull();
    const call = evalFor({ type: "m.call.invite", sender: "@bob:x", content: {} })!;
    expect(pushOutcome(call.actions).tweaks).toEqual({ sound: "ring" });
    expect(ruleOf({ type: "m.room.encrypted", sender: "@bob:x", content: {} }, ctx({ memberCount: 2 }))).toBe(".m.rule.encrypted_room_one_to_one");
    expect(ruleOf({ type: "m.room.encrypted", sender: "@bob:x", content: {} })).toBe(".m.rule.encrypted");
    expect(ruleOf({ type: "m.room.name", state_key: "", sender: "@bob:x", content: { name: "n" } })).toBeNull();
  });

  it("the master rule, when enabled, silences everything", () => {
    const stored: StoredPushRule[] = [{ kind: "override", rule_id: ".m.rule.master", priority: null, conditions: null, pattern: null, actions: null, enabled: true }];
    const m = evalFor(msg({ body: "hi", "m.mentions": { user_ids: [ALICE] } }), ctx(), stored)!;
    expect(m.rule.rule_id).toBe(".m.rule.master");
    expect(pushOutcome(m.actions).notify).toBe(false);
  });

  it("user rules come before server-default rules of their kind; room and sender rules match ids", () => {
    const stored: StoredPushRule[] = [
      { kind: "room", rule_id: "!room:example.org", priority: 1, conditions: null, pattern: null, actions: [], enabled: true },
      { kind: "sender", rule_id: "@spambot:example.org", priority: 1, conditions: null, pattern: null, actions: ["dont_notify"], enabled: true },
      { kind: "content", rule_id: "cake", priority: 1, conditions: null, pattern: "cake", actions: ["notify", { set_tweak: "sound", value: "cakealarm.wav" }], enabled: true },
    ];
    // Content rules are checked before room rules.
    expect(ruleOf(msg({ body: "cake time" }), ctx(), stored)).toBe("cake");
    expect(ruleOf(msg({ body: "hello" }), ctx(), stored)).toBe("!room:example.org");
    expect(ruleOf(msg({ body: "hello" }, { room_id: "!other:example.org" }), ctx(), stored)).toBe(".m.rule.message");
    const spam = evalFor(msg({ body: "buy" }, { room_id: "!other:x", sender: "@spambot:example.org" }), ctx(), stored)!;
    expect(spam.rule.rule_id).toBe("@spambot:example.org");
    expect(spam.actions).toEqual([]); // dont_notify stripped
  });

  it("spec example: an override with a body match and a member count", () => {
    const stored: StoredPushRule[] = [
      {
        kind: "override",
        rule_id: "beer",
        priority: 1,
        conditions: [
          { kind: "event_match", key: "content.body", pattern: "beer" },
          { kind: "room_member_count", is: "<=10" },
        ],
        pattern: null,
        actions: ["notify", { set_tweak: "sound", value: "beeroclock.wav" }],
        enabled: true,
      },
    ];
    expect(ruleOf(msg({ body: "Beer?" }), ctx({ memberCount: 10 }), stored)).toBe("beer");
    expect(ruleOf(msg({ body: "Beer?" }), ctx({ memberCount: 11 }), stored)).toBe(".m.rule.message");
  });

  it("disabled rules are skipped; changed default actions apply", () => {
    const stored: StoredPushRule[] = [
      { kind: "underride", rule_id: ".m.rule.message", priority: null, conditions: null, pattern: null, actions: ["notify", { set_tweak: "highlight", value: false }], enabled: null },
      { kind: "override", rule_id: ".m.rule.suppress_notices", priority: null, conditions: null, pattern: null, actions: null, enabled: false },
    ];
    const m = evalFor(msg({ msgtype: "m.notice", body: "n" }), ctx(), stored)!;
    expect(m.rule.rule_id).toBe(".m.rule.message");
    expect(pushOutcome(m.actions)).toEqual({ notify: true, highlight: false, tweaks: { highlight: false } });
  });

  it("an override with an unknown condition is effectively disabled", () => {
    const stored: StoredPushRule[] = [{ kind: "override", rule_id: "x", priority: 1, conditions: [{ kind: "future_kind" }], pattern: null, actions: ["notify", { set_tweak: "highlight" }], enabled: true }];
    expect(ruleOf(msg({ body: "hi" }), ctx(), stored)).toBe(".m.rule.message");
  });

  it("an override with no conditions matches everything", () => {
    const stored: StoredPushRule[] = [{ kind: "override", rule_id: "all", priority: 1, conditions: [], pattern: null, actions: [], enabled: true }];
    expect(ruleOf(msg({ body: "hi", "m.mentions": { user_ids: [ALICE] } }), ctx(), stored)).toBe("all");
  });
});

describe("ruleset assembly", () => {
  it("orders user rules by priority, most important first, after the master rule", () => {
    const mk = (rule_id: string, priority: number): StoredPushRule => ({ kind: "override", rule_id, priority, conditions: [], pattern: null, actions: [], enabled: true });
    const r = buildRuleset(ALICE, [mk("low", 1), mk("high", 3), mk("mid", 2)]);
    expect(r.override.slice(0, 5).map((x) => x.rule_id)).toEqual([".m.rule.master", "high", "mid", "low", ".m.rule.suppress_notices"]);
    expect(r.override[1]).toEqual({ rule_id: "high", default: false, enabled: true, conditions: [], actions: [] });
  });
  it("room and sender rules carry no conditions; content rules carry their pattern", () => {
    const r = buildRuleset(ALICE, [
      { kind: "room", rule_id: "!r:x", priority: 1, conditions: null, pattern: null, actions: [], enabled: false },
      { kind: "content", rule_id: "c", priority: 1, conditions: null, pattern: "p*", actions: ["notify"], enabled: true },
    ]);
    expect(r.room).toEqual([{ rule_id: "!r:x", default: false, enabled: false, actions: [] }]);
    expect(r.content[0]).toEqual({ rule_id: "c", default: false, enabled: true, pattern: "p*", actions: ["notify"] });
  });
});

describe("editing rules", () => {
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return (e as MatrixError).errcode;
    }
    return null;
  };

  it("rule ids: no leading dot, no slashes or backslashes, not empty", () => {
    expect(code(() => checkNewRuleId("nocake"))).toBeNull();
    expect(code(() => checkNewRuleId(".m.rule.mine"))).toBe("M_INVALID_PARAM");
    expect(code(() => checkNewRuleId("a/b"))).toBe("M_INVALID_PARAM");
    expect(code(() => checkNewRuleId("a\\b"))).toBe("M_INVALID_PARAM");
    expect(code(() => checkNewRuleId(""))).toBe("M_INVALID_PARAM");
  });

  it("actions: historical ones dropped, unknown refused", () => {
    expect(parseActions(["notify", "dont_notify", "coalesce", { set_tweak: "sound", value: "x" }])).toEqual(["notify", { set_tweak: "sound", value: "x" }]);
    expect(code(() => parseActions(["explode"]))).toBe("M_UNKNOWN");
    expect(code(() => parseActions([{ value: 1 }]))).toBe("M_UNKNOWN");
    expect(code(() => parseActions("notify"))).toBe("M_BAD_JSON");
  });

  it("bodies per kind: content needs a pattern, conditions must be objects with a kind", () => {
    expect(ruleFromBody("content", { pattern: "cake*lie", actions: ["notify"] })).toEqual({ actions: ["notify"], conditions: null, pattern: "cake*lie" });
    expect(code(() => ruleFromBody("content", { actions: [] }))).toBe("M_UNKNOWN");
    expect(code(() => ruleFromBody("content", { pattern: 5, actions: [] }))).toBe("M_UNKNOWN");
    expect(code(() => ruleFromBody("room", {}))).toBe("M_MISSING_PARAM");
    expect(ruleFromBody("override", { actions: [] }).conditions).toEqual([]);
    expect(code(() => parseConditions([{ key: "x" }]))).toBe("M_BAD_JSON");
    expect(code(() => parseConditions({}))).toBe("M_BAD_JSON");
    expect(ruleFromBody("room", { actions: ["notify"], conditions: [{ kind: "x" }] })).toEqual({ actions: ["notify"], conditions: null, pattern: null });
  });

  it("placement: top by default, before wins over after, anchors must be user rules", () => {
    expect(placeRule(["a", "b"], "n")).toEqual(["n", "a", "b"]);
    expect(placeRule(["a", "b", "n"], "n")).toEqual(["n", "a", "b"]);
    expect(placeRule(["a", "b"], "n", "b")).toEqual(["a", "n", "b"]);
    expect(placeRule(["a", "b"], "n", undefined, "a")).toEqual(["a", "n", "b"]);
    expect(placeRule(["a", "b"], "n", undefined, "b")).toEqual(["a", "b", "n"]);
    expect(placeRule(["a", "b"], "n", "a", "b")).toEqual(["n", "a", "b"]);
    expect(placeRule(["n", "a", "b"], "n", undefined, "b")).toEqual(["a", "b", "n"]);
    expect(code(() => placeRule(["a"], "n", "zzz"))).toBe("M_UNKNOWN");
    expect(code(() => placeRule(["a"], "n", ".m.rule.message"))).toBe("M_INVALID_PARAM");
    expect(code(() => placeRule(["a", "n"], "n", "n"))).toBe("M_INVALID_PARAM");
  });
});
