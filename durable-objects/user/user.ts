import { DurableObject } from "cloudflare:workers";
import type { Env } from "../../services/env.js";
import type { SlidingSyncConnection, SlidingSyncPos, SlidingSyncRoomSent, UserApi } from "../../services/user-api.js";
import { applySchema } from "../sql-schema.js";
import { PresenceTimer } from "./presence-timer.js";
import { SLIDING_SYNC_COUNTS, SLIDING_SYNC_SCHEMA, SlidingSyncConnections } from "./sliding-sync-connections.js";

const SCHEMA: readonly string[] = [
  `CREATE TABLE user_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  SLIDING_SYNC_SCHEMA.join(";\n"),
  SLIDING_SYNC_COUNTS,
];

interface Waiter {
  since: number;
  resolve: (pos: number) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * One Durable Object per local user: wakes that user's long-polling /sync
 * requests when a stream position that concerns the user advances, and times
 * the user's presence out (./presence-timer.ts), and keeps the sliding-sync
 * connections of the user's devices (./sliding-sync-connections.ts).
 */
export class User extends DurableObject<Env> implements UserApi {
  /** Highest stream position this object has been told about (in memory: a restart only costs one D1 read). */
  private latest = 0;
  private waiters = new Set<Waiter>();
  private readonly presence: PresenceTimer;
  private readonly connections: SlidingSyncConnections;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => applySchema(ctx.storage, SCHEMA));
    this.presence = new PresenceTimer(ctx, env, () => this.waiters.size > 0);
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

  /** Something for this user was written at stream position `pos`: wake every waiter behind it. */
  async notify(pos: number): Promise<void> {
    if (pos > this.latest) this.latest = pos;
    for (const w of this.waiters) {
      if (pos > w.since) {
        clearTimeout(w.timer);
        this.waiters.delete(w);
        w.resolve(pos);
      }
    }
  }

  /**
   * Resolves with a position past `since` as soon as one is notified, or with
   * `since` after `timeoutMs`. Callers re-read D1 either way: this is only a wake-up.
   */
  async waitForChange(since: number, timeoutMs: number): Promise<number> {
    if (this.latest > since) return this.latest;
    return new Promise<number>((resolve) => {
      const w: Waiter = {
        since,
        resolve,
        timer: setTimeout(() => {
          this.waiters.delete(w);
          resolve(since);
        }, timeoutMs),
      };
      this.waiters.add(w);
    });
  }
}
