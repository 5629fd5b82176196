/**
 * Push rules (client-server-api "Push Rules"): the kinds and their order, the
 * server-default rules, a user's ruleset assembled from what they stored, and
 * the evaluation of an event for one user.
 *
 * Server-default rules are the spec's, in the spec's order, with the
 * intentional-mention rules of MSC3952. The legacy body-matching mention rules
 * (`.m.rule.contains_display_name`, `.m.rule.roomnotif`,
 * `.m.rule.contains_user_name`) were removed from the spec in v1.17 (MSC4210)
 * but Synapse still ships them; we keep them, as Synapse does, and — per
 * MSC3952 "Backwards compatibility" — they never match an event whose content
 * has an `m.mentions` property.
 */
import type { JsonObject, JsonValue } from "./json.js";
import { isJsonObject } from "./json.js";
import { Glob } from "./push-glob.js";
import { valueAtPath } from "./property-path.js";

/** The kinds in the order they are checked (spec "Push Rules"). */
export const PUSH_RULE_KINDS = ["override", "content", "room", "sender", "underride"] as const;
export type PushRuleKind = (typeof PUSH_RULE_KINDS)[number];

export function isPushRuleKind(k: string): k is PushRuleKind {
  return (PUSH_RULE_KINDS as readonly string[]).includes(k);
}

export type PushCondition = JsonObject & { kind: string };
export type PushAction = string | JsonObject;

export interface PushRule {
  rule_id: string;
  default: boolean;
  enabled: boolean;
  actions: PushAction[];
  /** override and underride rules only. */
  conditions?: PushCondition[];
  /** content rules only. */
  pattern?: string;
}

export type PushRuleset = Record<PushRuleKind, PushRule[]>;

const NOTIFY = "notify";
const HIGHLIGHT: JsonObject = { set_tweak: "highlight" };
const SOUND_DEFAULT: JsonObject = { set_tweak: "sound", value: "default" };
const SOUND_RING: JsonObject = { set_tweak: "sound", value: "ring" };

/** Rule ids of the legacy mention rules, skipped for events with `m.mentions` (MSC3952). */
export const LEGACY_MENTION_RULES: ReadonlySet<string> = new Set([
  ".m.rule.contains_display_name",
  ".m.rule.roomnotif",
  ".m.rule.contains_user_name",
]);

function rule(rule_id: string, conditions: PushCondition[] | undefined, actions: PushAction[], enabled = true): PushRule {
  return { rule_id, default: true, enabled, ...(conditions ? { conditions } : {}), actions };
}

const match = (key: string, pattern: string): PushCondition => ({ kind: "event_match", key, pattern });

export function localpartOf(userId: string): string {
  const i = userId.indexOf(":");
  return userId.slice(1, i === -1 ? undefined : i);
}

/**
 * The server-default rules for `userId` (spec "Predefined Rules"). `.m.rule.master`
 * is first in `override`; the rest of each kind comes after the user's own rules.
 */
export function defaultRules(userId: string): { master: PushRule; override: PushRule[]; content: PushRule[]; underride: PushRule[] } {
  return {
    master: rule(".m.rule.master", [], [], false),
    override: [
      rule(".m.rule.suppress_notices", [match("content.msgtype", "m.notice")], []),
      rule(".m.rule.invite_for_me", [match("type", "m.room.member"), match("content.membership", "invite"), match("state_key", userId)], [NOTIFY, SOUND_DEFAULT]),
      rule(".m.rule.member_event", [match("type", "m.room.member")], []),
      rule(".m.rule.is_user_mention", [{ kind: "event_property_contains", key: "content.m\\.mentions.user_ids", value: userId }], [NOTIFY, SOUND_DEFAULT, HIGHLIGHT]),
      rule(".m.rule.contains_display_name", [{ kind: "contains_display_name" }], [NOTIFY, SOUND_DEFAULT, HIGHLIGHT]),
      rule(".m.rule.is_room_mention", [{ kind: "event_property_is", key: "content.m\\.mentions.room", value: true }, { kind: "sender_notification_permission", key: "room" }], [NOTIFY, HIGHLIGHT]),
      rule(".m.rule.roomnotif", [match("content.body", "@room"), { kind: "sender_notification_permission", key: "room" }], [NOTIFY, HIGHLIGHT]),
      rule(".m.rule.tombstone", [match("type", "m.room.tombstone"), match("state_key", "")], [NOTIFY, HIGHLIGHT]),
      rule(".m.rule.reaction", [match("type", "m.reaction")], []),
      rule(".m.rule.room.server_acl", [match("type", "m.room.server_acl"), match("state_key", "")], []),
      rule(".m.rule.suppress_edits", [{ kind: "event_property_is", key: "content.m\\.relates_to.rel_type", value: "m.replace" }], []),
    ],
    content: [{ rule_id: ".m.rule.contains_user_name", default: true, enabled: true, pattern: localpartOf(userId), actions: [NOTIFY, SOUND_DEFAULT, HIGHLIGHT] }],
    underride: [
      rule(".m.rule.call", [match("type", "m.call.invite")], [NOTIFY, SOUND_RING]),
      rule(".m.rule.encrypted_room_one_to_one", [{ kind: "room_member_count", is: "2" }, match("type", "m.room.encrypted")], [NOTIFY, SOUND_DEFAULT]),
      rule(".m.rule.room_one_to_one", [{ kind: "room_member_count", is: "2" }, match("type", "m.room.message")], [NOTIFY, SOUND_DEFAULT]),
      rule(".m.rule.message", [match("type", "m.room.message")], [NOTIFY]),
      rule(".m.rule.encrypted", [match("type", "m.room.encrypted")], [NOTIFY]),
    ],
  };
}

/** A rule as a user stored it: their own rules, and their changes to server-default ones. */
export interface StoredPushRule {
  kind: PushRuleKind;
  rule_id: string;
  /** User rules: larger is more important. Null for a change to a server-default rule. */
  priority: number | null;
  conditions: PushCondition[] | null;
  pattern: string | null;
  /** Null: the server-default rule's own actions. */
  actions: PushAction[] | null;
  /** Null: the server-default rule's own setting. */
  enabled: boolean | null;
}

/**
 * The user's ruleset as GET /pushrules/ shows it and evaluation walks it:
 * `.m.rule.master`, then user rules by priority, then the other server-default
 * rules ("They operate at a lower priority than user-defined rules, except for
 * the .m.rule.master rule").
 */
export function buildRuleset(userId: string, stored: StoredPushRule[]): PushRuleset {
  const defaults = defaultRules(userId);
  const changes = new Map<string, StoredPushRule>();
  for (const s of stored) if (s.rule_id.startsWith(".")) changes.set(`${s.kind}\u0000${s.rule_id}`, s);
  const withChanges = (kind: PushRuleKind, r: PushRule): PushRule => {
    const c = changes.get(`${kind}\u0000${r.rule_id}`);
    if (!c) return r;
    return { ...r, enabled: c.enabled ?? r.enabled, actions: c.actions ?? r.actions };
  };
  const user = (kind: PushRuleKind): PushRule[] =>
    stored
      .filter((s) => s.kind === kind && !s.rule_id.startsWith("."))
      .sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0) || (a.rule_id < b.rule_id ? -1 : 1))
      .map((s) => {
        const r: PushRule = { rule_id: s.rule_id, default: false, enabled: s.enabled ?? true, actions: s.actions ?? [] };
        if (kind === "override" || kind === "underride") r.conditions = s.conditions ?? [];
        if (kind === "content") r.pattern = s.pattern ?? "";
        return r;
      });
  return {
    override: [withChanges("override", defaults.master), ...user("override"), ...defaults.override.map((r) => withChanges("override", r))],
    content: [...user("content"), ...defaults.content.map((r) => withChanges("content", r))],
    room: user("room"),
    sender: user("sender"),
    underride: [...user("underride"), ...defaults.underride.map((r) => withChanges("underride", r))],
  };
}

/** Finds a rule of a kind in a ruleset. */
export function findRule(ruleset: PushRuleset, kind: PushRuleKind, ruleId: string): PushRule | undefined {
  return ruleset[kind].find((r) => r.rule_id === ruleId);
}

// ---- evaluation --------------------------------------------------------------

/** What a rule's conditions are evaluated against, besides the event. */
export interface PushEvaluationContext {
  userId: string;
  /** The user's display name in the room (from their member event). */
  displayName: string | undefined;
  /** Joined members of the room. */
  memberCount: number;
  senderPowerLevel: number;
  /** The level needed for a notification `key` (power levels `notifications`, default 50). */
  notificationLevel: (key: string) => number;
}

/** The event as push rules see it: a client event (`type`, `sender`, `room_id`, `content`, ...). */
export type PushEvent = JsonObject;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** `event_property_is` / `event_property_contains` compare only non-compound canonical JSON values. */
function isSimpleValue(v: JsonValue | undefined): v is string | number | boolean | null {
  if (v === null || typeof v === "string" || typeof v === "boolean") return true;
  return typeof v === "number" && Number.isInteger(v) && Math.abs(v) <= MAX_SAFE;
}

/** `room_member_count`'s `is`: a decimal integer, optionally prefixed by ==, <, >, >= or <=. */
export function memberCountMatches(is: string, count: number): boolean {
  const m = /^(==|<=|>=|<|>)?([0-9]+)$/.exec(is);
  if (!m) return false;
  const n = Number(m[2]);
  switch (m[1]) {
    case "<":
      return count < n;
    case ">":
      return count > n;
    case "<=":
      return count <= n;
    case ">=":
      return count >= n;
    default:
      return count === n;
  }
}

/** Compiled globs are reused across the users of one event. */
const globCache = new Map<string, Glob>();
function glob(pattern: string, mode: "whole" | "word", literal = false): Glob {
  const key = `${mode}${literal ? "L" : "G"}${pattern}`;
  let g = globCache.get(key);
  if (!g) {
    if (globCache.size > 1000) globCache.clear();
    g = new Glob(pattern, mode, literal);
    globCache.set(key, g);
  }
  return g;
}

/** Whether one condition holds. Unrecognised or malformed conditions never match (spec "Conditions"). */
export function conditionMatches(cond: PushCondition, event: PushEvent, ctx: PushEvaluationContext): boolean {
  switch (cond.kind) {
    case "event_match": {
      if (typeof cond.key !== "string" || typeof cond.pattern !== "string") return false;
      const v = valueAtPath(event, cond.key);
      if (typeof v !== "string") return false;
      // content.body matches words; everything else the whole value.
      return glob(cond.pattern, cond.key === "content.body" ? "word" : "whole").matches(v);
    }
    case "event_property_is": {
      if (typeof cond.key !== "string" || !("value" in cond) || !isSimpleValue(cond.value)) return false;
      const v = valueAtPath(event, cond.key);
      return isSimpleValue(v) && v === cond.value;
    }
    case "event_property_contains": {
      if (typeof cond.key !== "string" || !("value" in cond) || !isSimpleValue(cond.value)) return false;
      const v = valueAtPath(event, cond.key);
      return Array.isArray(v) && v.some((x) => isSimpleValue(x) && x === cond.value);
    }
    case "contains_display_name": {
      const body = valueAtPath(event, "content.body");
      // An empty display name would match everything (Synapse ignores it too).
      if (typeof body !== "string" || !ctx.displayName) return false;
      return glob(ctx.displayName, "word", true).matches(body);
    }
    case "room_member_count":
      return typeof cond.is === "string" && memberCountMatches(cond.is, ctx.memberCount);
    case "sender_notification_permission":
      return typeof cond.key === "string" && ctx.senderPowerLevel >= ctx.notificationLevel(cond.key);
    default:
      return false;
  }
}

/** The conditions a room, sender or content rule stands for (spec: "predefined conditions"). */
export function effectiveConditions(kind: PushRuleKind, r: PushRule): PushCondition[] {
  switch (kind) {
    case "room":
      return [{ kind: "event_match", key: "room_id", pattern: r.rule_id }];
    case "sender":
      return [{ kind: "event_match", key: "sender", pattern: r.rule_id }];
    case "content":
      return [{ kind: "event_match", key: "content.body", pattern: r.pattern ?? "" }];
    default:
      return r.conditions ?? [];
  }
}

export interface PushMatch {
  kind: PushRuleKind;
  rule: PushRule;
  /** The rule's actions without the historical `dont_notify` / `coalesce`. */
  actions: PushAction[];
}

/** The first enabled rule, in kind order, whose conditions all hold; null if none does. */
export function evaluatePushRules(ruleset: PushRuleset, event: PushEvent, ctx: PushEvaluationContext): PushMatch | null {
  const content = event.content;
  const hasMentions = isJsonObject(content) && Object.hasOwn(content, "m.mentions");
  for (const kind of PUSH_RULE_KINDS) {
    for (const r of ruleset[kind]) {
      if (!r.enabled) continue;
      if (hasMentions && r.default && LEGACY_MENTION_RULES.has(r.rule_id)) continue;
      // Room and sender rules compare ids exactly (they are ids, not patterns).
      if (kind === "room" ? event.room_id !== r.rule_id : kind === "sender" ? event.sender !== r.rule_id : false) continue;
      const conds = kind === "room" || kind === "sender" ? [] : effectiveConditions(kind, r);
      if (conds.every((c) => conditionMatches(c, event, ctx))) return { kind, rule: r, actions: stripHistoricalActions(r.actions) };
    }
  }
  return null;
}

/** Historical actions MUST be ignored (spec "Historical Actions"). */
export function stripHistoricalActions(actions: PushAction[]): PushAction[] {
  return actions.filter((a) => a !== "dont_notify" && a !== "coalesce");
}

export interface PushOutcome {
  notify: boolean;
  /** The `highlight` tweak: true when given without a value (spec "Actions"). */
  highlight: boolean;
  /** Tweaks to send to a push gateway. */
  tweaks: JsonObject;
}

export function pushOutcome(actions: PushAction[]): PushOutcome {
  const tweaks: JsonObject = {};
  let notify = false;
  for (const a of actions) {
    if (a === NOTIFY) notify = true;
    else if (isJsonObject(a) && typeof a.set_tweak === "string") {
      tweaks[a.set_tweak] = a.set_tweak === "highlight" ? (a.value === undefined ? true : a.value!) : (a.value ?? null);
    }
  }
  return { notify, highlight: tweaks.highlight === true, tweaks };
}
