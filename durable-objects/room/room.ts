import { DurableObject } from "cloudflare:workers";
import type { Env } from "../../workers/env.js";
import { applySchema } from "../sql-schema.js";

/** Schema of one room's event store (DAG, state, outbox); grows with the rooms work. */
const SCHEMA: readonly string[] = [
  `CREATE TABLE room_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
];

/**
 * One Durable Object per room: the room's single writer. It authorizes events
 * against the auth rules of the room's version, resolves state and publishes
 * accepted events to the D1 stream (see README "Design").
 */
export class Room extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => applySchema(ctx.storage, SCHEMA));
  }

  /** The room's id once it has been created here, or null. */
  async roomId(): Promise<string | null> {
    const row = this.ctx.storage.sql
      .exec<{ value: string }>("SELECT value FROM room_meta WHERE key = 'room_id'")
      .toArray()[0];
    return row?.value ?? null;
  }
}
