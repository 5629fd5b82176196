/**
 * The push rules API (client-server-api "Push Rules: API", pushrules.yaml): the
 * global ruleset and each rule, its `enabled` flag and its `actions`. Rules are
 * per user in D1; server-default rules can be enabled/disabled and given other
 * actions but not deleted or created.
 */
import { type Context, Hono } from "hono";
import { MatrixError, notFound } from "../../src/errors.js";
import { ActionsBodySchema, EnabledBodySchema, MAX_USER_RULES_PER_KIND, checkNewRuleId, placeRule, ruleBodySchema } from "../../src/push-rule-edit.js";
import { type PushRule, type PushRuleKind, type StoredPushRule, defaultRules, findRule, isPushRuleKind } from "../../src/push-rules.js";
import type { AppEnv } from "../app-env.js";
import { jsonBody, readJson } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { commitRulesChange, deleteRuleStatement, loadRuleset, reorderStatement, upsertRuleStatement } from "../../services/push/rules-store.js";
import { clientV3 } from "./paths.js";

export const pushRuleRoutes = new Hono<AppEnv>();

function kindParam(kind: string): PushRuleKind {
  // Synapse answers an unknown kind (or scope) as an unrecognised request.
  if (!isPushRuleKind(kind)) throw new MatrixError("M_UNRECOGNIZED", `Unknown push rule kind: ${kind}`, 400);
  return kind;
}

const ruleNotFound = () => notFound("The push rule was not found.");

async function ruleOf(c: Context<AppEnv>) {
  const kind = kindParam(c.req.param("kind")!);
  const ruleId = c.req.param("ruleId")!;
  const userId = c.get("auth").userId;
  const { stored, ruleset } = await loadRuleset(c.env.DB, userId);
  return { kind, ruleId, userId, stored, rule: findRule(ruleset, kind, ruleId) };
}

const isDefaultId = (ruleId: string) => ruleId.startsWith(".");

function isServerDefault(userId: string, kind: PushRuleKind, ruleId: string): boolean {
  const d = defaultRules(userId);
  const all: Partial<Record<PushRuleKind, PushRule[]>> = { override: [d.master, ...d.override], content: d.content, underride: d.underride };
  return (all[kind] ?? []).some((r) => r.rule_id === ruleId);
}

/** The stored rules with `patch` applied to one rule (a server-default rule gets a change row). */
function patched(stored: StoredPushRule[], kind: PushRuleKind, ruleId: string, patch: Partial<Pick<StoredPushRule, "enabled" | "actions">>): { row: StoredPushRule; all: StoredPushRule[] } {
  const existing = stored.find((s) => s.kind === kind && s.rule_id === ruleId);
  const row: StoredPushRule = { ...(existing ?? { kind, rule_id: ruleId, priority: null, conditions: null, pattern: null, actions: null, enabled: null }), ...patch };
  return { row, all: [...stored.filter((s) => s !== existing), row] };
}

/** GET /pushrules/ — every ruleset of the user; only `global` is defined. */
for (const path of ["/pushrules/", "/pushrules"] as const) {
  pushRuleRoutes.get(clientV3(path), requireAuth(), async (c) => {
    const { ruleset } = await loadRuleset(c.env.DB, c.get("auth").userId);
    return c.json({ global: ruleset });
  });
}

/** GET /pushrules/global/ — the global ruleset. */
for (const path of ["/pushrules/global/", "/pushrules/global"] as const) {
  pushRuleRoutes.get(clientV3(path), requireAuth(), async (c) => c.json((await loadRuleset(c.env.DB, c.get("auth").userId)).ruleset));
}

/** GET /pushrules/global/{kind}/ — the rules of one kind (Synapse serves it too). */
pushRuleRoutes.get(clientV3("/pushrules/global/:kind/"), requireAuth(), async (c) => {
  const kind = kindParam(c.req.param("kind"));
  return c.json((await loadRuleset(c.env.DB, c.get("auth").userId)).ruleset[kind]);
});

/** GET /pushrules/global/{kind}/{ruleId} */
pushRuleRoutes.get(clientV3("/pushrules/global/:kind/:ruleId"), requireAuth(), async (c) => {
  const { rule } = await ruleOf(c);
  if (!rule) throw ruleNotFound();
  return c.json(rule);
});

/** PUT /pushrules/global/{kind}/{ruleId}?before=&after= — create or replace a user rule. */
pushRuleRoutes.put(clientV3("/pushrules/global/:kind/:ruleId"), requireAuth(), async (c) => {
  const kind = kindParam(c.req.param("kind"));
  const ruleId = c.req.param("ruleId");
  checkNewRuleId(ruleId);
  // Read in the handler: what the body must hold depends on {kind}, checked (with the rule id) first.
  const body = await readJson(c, ruleBodySchema(kind));
  const before = c.req.query("before");
  const after = c.req.query("after");
  const userId = c.get("auth").userId;
  const { stored } = await loadRuleset(c.env.DB, userId);
  const mine = stored.filter((s) => s.kind === kind && !isDefaultId(s.rule_id)).sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0));
  const existing = mine.find((s) => s.rule_id === ruleId);
  if (!existing && mine.length >= MAX_USER_RULES_PER_KIND) {
    throw new MatrixError("M_FORBIDDEN", `At most ${MAX_USER_RULES_PER_KIND} ${kind} rules per user`, 403);
  }
  const order = placeRule(
    mine.map((s) => s.rule_id),
    ruleId,
    before || undefined,
    after || undefined,
  );
  // "When creating push rules, they MUST be enabled by default"; an update keeps the flag.
  const row: StoredPushRule = { kind, rule_id: ruleId, priority: order.length - order.indexOf(ruleId), ...body, enabled: existing?.enabled ?? true };
  const all = [...stored.filter((s) => s !== existing), row].map((s) =>
    s.kind === kind && !isDefaultId(s.rule_id) ? { ...s, priority: order.length - order.indexOf(s.rule_id) } : s,
  );
  const db = c.env.DB;
  await commitRulesChange(c.env, userId, { statements: [upsertRuleStatement(db, userId, kind, row), reorderStatement(db, userId, kind, order)], stored: all });
  return c.json({});
});

/** DELETE /pushrules/global/{kind}/{ruleId} — user rules only. */
pushRuleRoutes.delete(clientV3("/pushrules/global/:kind/:ruleId"), requireAuth(), async (c) => {
  const { kind, ruleId, userId, stored, rule } = await ruleOf(c);
  if (!rule) throw ruleNotFound();
  if (rule.default || isServerDefault(userId, kind, ruleId)) throw new MatrixError("M_INVALID_PARAM", "Server-default rules cannot be deleted", 400);
  await commitRulesChange(c.env, userId, {
    statements: [deleteRuleStatement(c.env.DB, userId, kind, ruleId)],
    stored: stored.filter((s) => !(s.kind === kind && s.rule_id === ruleId)),
  });
  return c.json({});
});

/** GET /pushrules/global/{kind}/{ruleId}/enabled */
pushRuleRoutes.get(clientV3("/pushrules/global/:kind/:ruleId/enabled"), requireAuth(), async (c) => {
  const { rule } = await ruleOf(c);
  if (!rule) throw ruleNotFound();
  return c.json({ enabled: rule.enabled });
});

/** PUT /pushrules/global/{kind}/{ruleId}/enabled */
pushRuleRoutes.put(clientV3("/pushrules/global/:kind/:ruleId/enabled"), requireAuth(), jsonBody(EnabledBodySchema), async (c) => {
  const { enabled } = c.req.valid("json");
  const { kind, ruleId, userId, stored, rule } = await ruleOf(c);
  if (!rule) throw ruleNotFound();
  const { row, all } = patched(stored, kind, ruleId, { enabled });
  await commitRulesChange(c.env, userId, { statements: [upsertRuleStatement(c.env.DB, userId, kind, row)], stored: all });
  return c.json({});
});

/** GET /pushrules/global/{kind}/{ruleId}/actions */
pushRuleRoutes.get(clientV3("/pushrules/global/:kind/:ruleId/actions"), requireAuth(), async (c) => {
  const { rule } = await ruleOf(c);
  if (!rule) throw ruleNotFound();
  return c.json({ actions: rule.actions });
});

/** PUT /pushrules/global/{kind}/{ruleId}/actions — also for server-default rules. */
pushRuleRoutes.put(clientV3("/pushrules/global/:kind/:ruleId/actions"), requireAuth(), jsonBody(ActionsBodySchema), async (c) => {
  const { actions } = c.req.valid("json");
  const { kind, ruleId, userId, stored, rule } = await ruleOf(c);
  if (!rule) throw ruleNotFound();
  const { row, all } = patched(stored, kind, ruleId, { actions });
  await commitRulesChange(c.env, userId, { statements: [upsertRuleStatement(c.env.DB, userId, kind, row)], stored: all });
  return c.json({});
});
