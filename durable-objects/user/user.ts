import { DurableObject } from "cloudflare:workers";
import type { Env } from "../../workers/env.js";
import { applySchema } from "../sql-schema.js";

const SCHEMA: readonly string[] = [
  `CREATE TABLE user_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
];

/**
 * One Durable Object per local user: wakes that user's long-polling /sync
 * requests and keeps per-device sliding-sync connection state.
 */
export class User extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => applySchema(ctx.storage, SCHEMA));
  }

  /** The user's id once it has been bound to this object, or null. */
  async userId(): Promise<string | null> {
    const row = this.ctx.storage.sql
      .exec<{ value: string }>("SELECT value FROM user_meta WHERE key = 'user_id'")
      .toArray()[0];
    return row?.value ?? null;
  }
}
