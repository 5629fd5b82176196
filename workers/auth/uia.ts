import type { Context } from "hono";
import { z } from "zod";
import { MatrixError } from "../../src/errors.js";
import type { JsonObject } from "../../src/json.js";
import type { AppEnv } from "../app-env.js";
import { encodeBase64Url } from "../../src/base64.js";
import { createUiaSession, deleteUiaSession, loadUiaSession, updateUiaSession } from "../../services/d1/uia-sessions.js";
import { checkPassword, resolveLoginIdentifier } from "./password-login.js";

/**
 * User-interactive authentication (client-server-api "User-Interactive
 * Authentication API"): one mechanism for registration, device deletion,
 * password change, deactivation, login tokens and cross-signing uploads.
 * Sessions live in D1 so any Worker isolate can continue them.
 */

export type Stage = "m.login.dummy" | "m.login.password" | "m.login.registration_token" | "m.login.terms";

export interface UiaOptions {
  flows: Stage[][];
  params?: Record<string, JsonObject>;
  /** The authenticated user the stages must prove to be (password stage), if any. */
  userId?: string | undefined;
  /** Called when a stage needs checks beyond this module (e.g. registration token validity). */
  stageHook?: (stage: Stage, auth: UiaAuth, data: JsonObject) => Promise<void>;
}

export interface UiaResult {
  sessionId: string;
  completed: Stage[];
  data: JsonObject;
}

/** Sessions not finished within this time are forgotten. */
const SESSION_LIFETIME_MS = 30 * 60 * 1000;

/** A 401 answer that is not (yet) an error: `{flows, params, session, completed[, errcode, error]}`. */
export class UiaRequired extends MatrixError {
  constructor(
    readonly body: JsonObject,
    failure?: { errcode: MatrixError["errcode"]; error: string },
  ) {
    super(failure?.errcode ?? "M_FORBIDDEN", failure?.error ?? "Authentication required", 401, body);
    this.failure = failure;
  }
  private readonly failure: { errcode: MatrixError["errcode"]; error: string } | undefined;
  override toJSON(): Record<string, unknown> {
    return this.failure ? { ...this.body, errcode: this.failure.errcode, error: this.failure.error } : { ...this.body };
  }
}

/**
 * The `auth` dict of a request (spec "User-interactive authentication API",
 * AuthenticationData): `type` and `session`, plus the keys of the stage it
 * completes (e.g. `identifier` and `password`), which the stage checks.
 */
export const UiaAuthSchema = z.looseObject({
  type: z.string().optional(),
  session: z.string().optional(),
});
export type UiaAuth = z.output<typeof UiaAuthSchema>;

/** The body of a UIA-protected request: the operation's own fields and, on later rounds, `auth`. */
export function uiaBody<Shape extends z.ZodRawShape>(shape: Shape) {
  return z.object({ ...shape, auth: UiaAuthSchema.optional() });
}

function operationOf(c: Context<AppEnv>): string {
  return `${c.req.method} ${new URL(c.req.url).pathname}`;
}

/**
 * Runs one round of UIA for a request whose body carried `auth` (validated with
 * the body: UiaAuthSchema). Returns when a flow is complete; otherwise throws the
 * 401 that tells the client what is left.
 */
export async function userInteractiveAuth(c: Context<AppEnv>, auth: UiaAuth | undefined, opts: UiaOptions): Promise<UiaResult> {
  const db = c.env.DB;
  const operation = operationOf(c);
  const now = Date.now();

  let sessionId = auth?.session;
  let completed: Stage[] = [];
  let data: JsonObject = {};
  if (sessionId) {
    const row = await loadUiaSession(db, sessionId);
    if (!row || row.created_ts + SESSION_LIFETIME_MS < now) {
      throw new MatrixError("M_UNKNOWN", `Unknown session ID: ${sessionId}`, 400);
    }
    if (row.operation !== operation || (row.user_id ?? undefined) !== opts.userId) {
      throw new MatrixError("M_FORBIDDEN", "Requested operation has changed during the UI authentication session.", 403);
    }
    completed = JSON.parse(row.completed) as Stage[];
    data = JSON.parse(row.data) as JsonObject;
  } else {
    sessionId = encodeBase64Url(crypto.getRandomValues(new Uint8Array(18)));
    await createUiaSession(db, sessionId, operation, opts.userId ?? null, now);
  }

  const challenge = (): JsonObject => ({
    flows: opts.flows.map((stages) => ({ stages })),
    params: opts.params ?? {},
    session: sessionId,
    ...(completed.length ? { completed } : {}),
  });

  const stage = auth?.type as Stage | undefined;
  if (auth && stage !== undefined) {
    const allowed = opts.flows.some((f) => f.includes(stage));
    if (!allowed) {
      throw new UiaRequired(challenge(), { errcode: "M_UNRECOGNIZED", error: `Unrecognised login type: ${String(stage)}` });
    }
    try {
      await checkStage(c, stage, auth, opts, data);
    } catch (e) {
      if (e instanceof MatrixError && e.status !== 429) {
        throw new UiaRequired(challenge(), { errcode: e.errcode, error: e.message });
      }
      throw e;
    }
    if (!completed.includes(stage)) completed.push(stage);
    await updateUiaSession(db, sessionId, completed, data);
  }

  if (opts.flows.some((f) => f.every((s) => completed.includes(s)))) {
    return { sessionId, completed, data };
  }
  throw new UiaRequired(challenge());
}

/** Forgets a finished session, so it cannot authorise a second operation. */
export async function endUiaSession(db: D1Database, sessionId: string): Promise<void> {
  await deleteUiaSession(db, sessionId);
}

async function checkStage(c: Context<AppEnv>, stage: Stage, auth: UiaAuth, opts: UiaOptions, data: JsonObject): Promise<void> {
  switch (stage) {
    case "m.login.dummy":
    case "m.login.terms":
      break;
    case "m.login.password": {
      const userId = await resolveLoginIdentifier(c, auth);
      if (opts.userId !== undefined && userId !== opts.userId) {
        throw new MatrixError("M_FORBIDDEN", "Invalid username or password", 403);
      }
      await checkPassword(c, userId, auth.password);
      break;
    }
    case "m.login.registration_token":
      break;
  }
  await opts.stageHook?.(stage, auth, data);
}
