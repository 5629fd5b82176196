import type { Context } from "hono";
import { z } from "zod";
import { MatrixError } from "../../src/errors.js";
import type { JsonObject } from "../../src/json.js";
import type { AppEnv } from "../app-env.js";
import { encodeBase64Url } from "../../src/base64.js";
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
  stageHook?: (stage: Stage, auth: JsonObject, data: JsonObject) => Promise<void>;
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

const AuthDict = z.looseObject({
  type: z.string().optional(),
  session: z.string().optional(),
});

interface SessionRow {
  operation: string;
  user_id: string | null;
  completed: string;
  data: string;
  created_ts: number;
}

function operationOf(c: Context<AppEnv>): string {
  return `${c.req.method} ${new URL(c.req.url).pathname}`;
}

/**
 * Runs one round of UIA for a request whose body is `body`. Returns when a flow is
 * complete; otherwise throws the 401 that tells the client what is left.
 */
export async function userInteractiveAuth(c: Context<AppEnv>, body: JsonObject, opts: UiaOptions): Promise<UiaResult> {
  const db = c.env.DB;
  const operation = operationOf(c);
  const now = Date.now();
  const parsedAuth = body.auth === undefined ? undefined : AuthDict.safeParse(body.auth);
  if (parsedAuth && !parsedAuth.success) throw new MatrixError("M_BAD_JSON", "auth must be an object", 400);
  const auth = parsedAuth?.data as JsonObject | undefined;

  let sessionId = typeof auth?.session === "string" ? auth.session : undefined;
  let completed: Stage[] = [];
  let data: JsonObject = {};
  if (sessionId) {
    const row = await db
      .prepare("SELECT operation, user_id, completed, data, created_ts FROM uia_sessions WHERE session_id = ?")
      .bind(sessionId)
      .first<SessionRow>();
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
    await db
      .prepare("INSERT INTO uia_sessions (session_id, operation, user_id, created_ts) VALUES (?, ?, ?, ?)")
      .bind(sessionId, operation, opts.userId ?? null, now)
      .run();
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
    await db
      .prepare("UPDATE uia_sessions SET completed = ?, data = ? WHERE session_id = ?")
      .bind(JSON.stringify(completed), JSON.stringify(data), sessionId)
      .run();
  }

  if (opts.flows.some((f) => f.every((s) => completed.includes(s)))) {
    return { sessionId, completed, data };
  }
  throw new UiaRequired(challenge());
}

/** Forgets a finished session, so it cannot authorise a second operation. */
export async function endUiaSession(db: D1Database, sessionId: string): Promise<void> {
  await db.prepare("DELETE FROM uia_sessions WHERE session_id = ?").bind(sessionId).run();
}

async function checkStage(c: Context<AppEnv>, stage: Stage, auth: JsonObject, opts: UiaOptions, data: JsonObject): Promise<void> {
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
