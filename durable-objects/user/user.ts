import { DurableObject } from "cloudflare:workers";
import type { Env } from "../../services/env.js";
import type { SlidingSyncConnection, SlidingSyncPos, SlidingSyncRoomSent, UserApi } from "../../services/user-api.js";
import { isWaiting } from "../../services/wake.js";
import { applySchema } from "../sql-schema.js";
import { PresenceTimer } from "./presence-timer.js";
import { SLIDING_SYNC_COUNTS, SLIDING_SYNC_SCHEMA, SlidingSyncConnections } from "./sliding-sync-connections.js";

const SCHEMA: readonly string[] = [
  `CREATE TABLE user_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  SLIDING_SYNC_SCHEMA.join(";\n"),
  SLIDING_SYNC_COUNTS,
];

/**
 * One Durable Object per local user: times the user's presence out
 * (./presence-timer.ts) and keeps the sliding-sync connections of the user's
 * devices (./sliding-sync-connections.ts). Long-polls do not wait here: the
 * Worker holds them and a Wake shard wakes them (durable-objects/wake/wake.ts).
 */
export class User extends DurableObject<Env> implements UserApi {
  private readonly presence: PresenceTimer;
  private readonly connections: SlidingSyncConnections;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => applySchema(ctx.storage, SCHEMA));
    this.presence = new PresenceTimer(ctx, env, (userId) => isWaiting(env, userId));
    this.connections = new SlidingSyncConnections(ctx.storage.sql);
  }

  async slidingSyncResume(deviceId: string, connId: string, pos: SlidingSyncPos): Promise<SlidingSyncConnection | null> {
    return this.ctx.storage.transactionSync(() => this.connections.resume(deviceId, connId, pos.nonce, pos.n, Date.now()));
  }

  async slidingSyncCommit(
    deviceId: string,
    connId: string,
    from: SlidingSyncPos | null,
    streamPos: number,
    rooms: Record<string, SlidingSyncRoomSent>,
    list: string,
    counts: Record<string, number>,
  ): Promise<SlidingSyncPos | null> {
    return this.ctx.storage.transactionSync(() => {
      // A new connection is opened with its first response: one call, nothing to read before building it.
      const base = from ?? this.connections.open(deviceId, connId, Date.now());
      const n = this.connections.commit(deviceId, connId, base.nonce, base.n, streamPos, rooms, list, counts);
      return n === null ? null : { nonce: base.nonce, n };
    });
  }

  /** Presence timeout for this user (./presence-timer.ts). */
  async schedulePresenceCheck(userId: string, at: number): Promise<void> {
    await this.presence.schedule(userId, at);
  }

  override async alarm(): Promise<void> {
    await this.presence.onAlarm();
  }
}
