/**
 * Changing a user's push rules (client-server-api "Push Rules: API", PUT
 * /pushrules/global/{kind}/{ruleId}): rule id and body validation, and where
 * a new or updated rule goes among the user's rules of its kind.
 */
import { z } from "zod";
import { MatrixError } from "./errors.js";
import { isJsonObject, type JsonObject, JsonObjectSchema } from "./json.js";
import type { PushAction, PushCondition, PushRuleKind } from "./push-rules.js";

/** User rules per kind; each is read whenever an event in a room of the user is evaluated. */
export const MAX_USER_RULES_PER_KIND = 500;

const unknown = (msg: string) => new MatrixError("M_UNKNOWN", msg, 400);
const invalid = (msg: string) => new MatrixError("M_INVALID_PARAM", msg, 400);

/**
 * A rule id a user may create: not empty, not starting with "." (reserved for
 * server-default rules) and without "/" or "\" (spec, PUT ruleId parameter).
 */
export function checkNewRuleId(ruleId: string): void {
  if (ruleId === "") throw invalid("The rule id must not be empty");
  if (ruleId.startsWith(".")) throw invalid("Rule ids starting with '.' are reserved for server-default rules");
  if (/[/\\]/.test(ruleId)) throw invalid("Rule ids may not contain '/' or '\\'");
}

/** Actions: "notify", the historical "dont_notify"/"coalesce" (dropped), or `{set_tweak, value?}`. */
export function parseActions(v: unknown): PushAction[] {
  if (!Array.isArray(v)) throw new MatrixError("M_BAD_JSON", "actions must be an array", 400);
  const out: PushAction[] = [];
  for (const a of v) {
    if (a === "notify") out.push(a);
    else if (a === "dont_notify" || a === "coalesce") continue; // spec "Historical Actions"
    else if (isJsonObject(a) && typeof a.set_tweak === "string") out.push(a);
    else throw unknown(`Unrecognised action: ${JSON.stringify(a)}`);
  }
  return out;
}

/** Conditions of an override/underride rule: objects with a string `kind`; unknown kinds are kept (they never match). */
export function parseConditions(v: unknown): PushCondition[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new MatrixError("M_BAD_JSON", "conditions must be an array", 400);
  return v.map((c) => {
    if (!isJsonObject(c) || typeof c.kind !== "string") throw new MatrixError("M_BAD_JSON", "Each condition must be an object with a string 'kind'", 400);
    return c as PushCondition;
  });
}

export interface NewRule {
  actions: PushAction[];
  conditions: PushCondition[] | null;
  pattern: string | null;
}

/** The stored parts of a rule from a PUT body, per kind. */
export function ruleFromBody(kind: PushRuleKind, body: JsonObject): NewRule {
  if (!("actions" in body)) throw new MatrixError("M_MISSING_PARAM", "Missing 'actions'", 400);
  const actions = parseActions(body.actions);
  if (kind === "content") {
    if (typeof body.pattern !== "string") throw unknown("Content rules need a string 'pattern'");
    return { actions, conditions: null, pattern: body.pattern };
  }
  if (kind === "override" || kind === "underride") return { actions, conditions: parseConditions(body.conditions), pattern: null };
  return { actions, conditions: null, pattern: null };
}

/**
 * The user's rules of one kind, most important first, after putting `ruleId`
 * (spec): `before` makes it the next more important rule than `before`,
 * `after` the next less important than `after` (`before` wins when both are
 * given); with neither it becomes the most important user rule (as Synapse
 * does for updates too). Relative positions name user rules only.
 */
export function placeRule(current: string[], ruleId: string, before?: string, after?: string): string[] {
  const rest = current.filter((id) => id !== ruleId);
  const anchor = before ?? after;
  if (anchor === undefined) return [ruleId, ...rest];
  if (anchor.startsWith(".")) throw invalid("Rules cannot be placed relative to a server-default rule");
  if (anchor === ruleId) throw invalid("A rule cannot be placed relative to itself");
  const i = rest.indexOf(anchor);
  if (i === -1) throw unknown(`before/after rule not found: ${anchor}`);
  const at = before !== undefined ? i : i + 1;
  return [...rest.slice(0, at), ruleId, ...rest.slice(at)];
}

/**
 * The body of PUT /pushrules/global/{kind}/{ruleId} for a rule of `kind`: an
 * object checked by ruleFromBody (what it needs depends on the kind); its
 * MatrixErrors, with their errcodes, pass through zod.
 */
export const ruleBodySchema = (kind: PushRuleKind) => JsonObjectSchema.transform((body) => ruleFromBody(kind, body));

/** The body of PUT .../actions: `actions` is required, each action checked by parseActions. */
export const ActionsBodySchema = z.object({ actions: z.array(z.json()).transform(parseActions) });

/** The body of PUT .../enabled. */
export const EnabledBodySchema = z.object({ enabled: z.boolean() });
