/**
 * Users' push rules in D1 (d1-migrations/0009_push_search.sql `push_rules`): read
 * for evaluation (Room DO, many users at once) and for the /pushrules API, and
 * written by it. Every change also rewrites the user's `m.push_rules` global
 * account data (client-server-api "Push Rules: Events") in the account data table
 * (0008_ephemeral.sql) at a new stream position, so /sync's account data delivers
 * it like any other account data.
 */
import type { JsonObject } from "../../src/json.js";
import {
  type PushAction,
  type PushCondition,
  type PushRuleKind,
  type PushRuleset,
  type StoredPushRule,
  buildRuleset,
  isPushRuleKind,
} from "../../src/push-rules.js";
import type { Env } from "../env.js";
import { Topic, notifyUsers } from "../wake.js";
import { STREAM_POS, advanceStream, streamPosOf } from "../stream.js";

interface Row {
  user_id: string;
  kind: string;
  rule_id: string;
  priority: number | null;
  conditions: string | null;
  pattern: string | null;
  actions: string | null;
  enabled: number | null;
}

const COLUMNS = "user_id, kind, rule_id, priority, conditions, pattern, actions, enabled";

function fromRow(r: Row): StoredPushRule | undefined {
  if (!isPushRuleKind(r.kind)) return undefined;
  return {
    kind: r.kind,
    rule_id: r.rule_id,
    priority: r.priority,
    conditions: r.conditions === null ? null : (JSON.parse(r.conditions) as PushCondition[]),
    pattern: r.pattern,
    actions: r.actions === null ? null : (JSON.parse(r.actions) as PushAction[]),
    enabled: r.enabled === null ? null : r.enabled === 1,
  };
}

/** Stored rules of several users (one query: the user id list is one json_each parameter). */
export async function loadStoredRules(db: D1Database, userIds: string[]): Promise<Map<string, StoredPushRule[]>> {
  const { results } = await db
    .prepare(`SELECT ${COLUMNS} FROM push_rules WHERE user_id IN (SELECT value FROM json_each(?))`)
    .bind(JSON.stringify(userIds))
    .all<Row>();
  const out = new Map<string, StoredPushRule[]>();
  for (const r of results) {
    const s = fromRow(r);
    if (!s) continue;
    const list = out.get(r.user_id);
    if (list) list.push(s);
    else out.set(r.user_id, [s]);
  }
  return out;
}

export async function loadRuleset(db: D1Database, userId: string): Promise<{ stored: StoredPushRule[]; ruleset: PushRuleset }> {
  const stored = (await loadStoredRules(db, [userId])).get(userId) ?? [];
  return { stored, ruleset: buildRuleset(userId, stored) };
}

/** The content of the `m.push_rules` account data event. */
export function pushRulesContent(ruleset: PushRuleset): JsonObject {
  return { global: ruleset as unknown as JsonObject };
}

/** A change to one user's rules: the statements, then the new stored set (for m.push_rules). */
export interface RulesChange {
  statements: D1PreparedStatement[];
  stored: StoredPushRule[];
}

/**
 * Applies a change in one D1 batch that also advances the stream and rewrites the
 * user's m.push_rules account data, then wakes their long-polls.
 */
export async function commitRulesChange(env: Env, userId: string, change: RulesChange): Promise<void> {
  const db = env.DB;
  const content = pushRulesContent(buildRuleset(userId, change.stored));
  const results = await db.batch([
    advanceStream(db),
    ...change.statements,
    db
      .prepare(
        `INSERT INTO account_data (user_id, room_id, type, content, deleted, stream_pos) VALUES (?, '', 'm.push_rules', ?, 0, ${STREAM_POS}) ` +
          "ON CONFLICT (user_id, room_id, type) DO UPDATE SET content = excluded.content, deleted = 0, stream_pos = excluded.stream_pos",
      )
      .bind(userId, JSON.stringify(content)),
  ]);
  await notifyUsers(env, [userId], streamPosOf(results), Topic.ACCOUNT_DATA);
}

export function upsertRuleStatement(db: D1Database, userId: string, kind: PushRuleKind, r: StoredPushRule): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO push_rules (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ` +
        "ON CONFLICT (user_id, kind, rule_id) DO UPDATE SET priority = excluded.priority, conditions = excluded.conditions, " +
        "pattern = excluded.pattern, actions = excluded.actions, enabled = excluded.enabled",
    )
    .bind(
      userId,
      kind,
      r.rule_id,
      r.priority,
      r.conditions === null ? null : JSON.stringify(r.conditions),
      r.pattern,
      r.actions === null ? null : JSON.stringify(r.actions),
      r.enabled === null ? null : r.enabled ? 1 : 0,
    );
}

/** Rewrites the priorities of a user's rules of one kind from an order, most important first (one statement). */
export function reorderStatement(db: D1Database, userId: string, kind: PushRuleKind, order: string[]): D1PreparedStatement {
  const prios = order.map((id, i) => ({ id, p: order.length - i }));
  return db
    .prepare(
      "UPDATE push_rules SET priority = (SELECT j.value ->> 'p' FROM json_each(?3) j WHERE j.value ->> 'id' = push_rules.rule_id) " +
        "WHERE user_id = ?1 AND kind = ?2 AND rule_id IN (SELECT j.value ->> 'id' FROM json_each(?3) j)",
    )
    .bind(userId, kind, JSON.stringify(prios));
}

export function deleteRuleStatement(db: D1Database, userId: string, kind: PushRuleKind, ruleId: string): D1PreparedStatement {
  return db.prepare("DELETE FROM push_rules WHERE user_id = ? AND kind = ? AND rule_id = ?").bind(userId, kind, ruleId);
}
