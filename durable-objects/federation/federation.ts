import { DurableObject } from "cloudflare:workers";
import type { Env } from "../../services/env.js";
import type { FederationApi } from "../../services/federation-api.js";
import { applySchema } from "../sql-schema.js";

const SCHEMA: readonly string[] = [
  `CREATE TABLE destination_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
];

/**
 * One Durable Object per remote server. Today it only records which server it
 * stands for; the durable, ordered outbound queue of PDUs and EDUs (one
 * transaction in flight, alarm-driven backoff) is to be built here with room
 * federation.
 */
export class Federation extends DurableObject<Env> implements FederationApi {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => applySchema(ctx.storage, SCHEMA));
  }

  /** The destination server name once bound to this object, or null. */
  async destination(): Promise<string | null> {
    const row = this.ctx.storage.sql
      .exec<{ value: string }>("SELECT value FROM destination_meta WHERE key = 'destination'")
      .toArray()[0];
    return row?.value ?? null;
  }
}
