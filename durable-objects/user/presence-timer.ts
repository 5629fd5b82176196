/**
 * The presence timeout of one local user, run by the user's Durable Object
 * (src/presence.ts has the rules). Presence is written to D1 by the Worker; each
 * write of a state other than offline arms this object's alarm for when the user
 * would time out. When it fires, the row is read again: still silent and no sync
 * in flight (asked of the user's Wake shard) → offline, announced to
 * everyone sharing a room; otherwise it re-arms for the new deadline. No timer
 * runs for users who are offline.
 */
import { presenceTimeout } from "../../src/presence.js";
import type { Env } from "../../services/env.js";
import { markOffline, readPresence } from "../../services/presence/presence.js";
import { alarmNoLaterThan } from "../alarm.js";

const USER_KEY = "presence_user";

export class PresenceTimer {
  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    /** Whether a sync of the user is waiting right now (services/wake.ts). */
    private readonly syncInFlight: (userId: string) => Promise<boolean>,
  ) {}

  /** Arms the alarm for `at` (the object does not know its own name, so the user id is kept). */
  async schedule(userId: string, at: number): Promise<void> {
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO user_meta (key, value) VALUES (?, ?)", USER_KEY, userId);
    await alarmNoLaterThan(this.ctx.storage, at);
  }

  async onAlarm(): Promise<void> {
    const userId = this.ctx.storage.sql.exec<{ value: string }>("SELECT value FROM user_meta WHERE key = ?", USER_KEY).toArray()[0]?.value;
    if (!userId) return;
    const row = await readPresence(this.env.DB, userId);
    const now = Date.now();
    const verdict = presenceTimeout(row, now, await this.syncInFlight(userId));
    if ("offline" in verdict) {
      // Lost a race with a sync that refreshed the row: look again at its new deadline.
      if (!(await markOffline(this.env, userId, verdict.offline.last_seen_ts))) await alarmNoLaterThan(this.ctx.storage, now + 1_000);
    } else if (verdict.checkAt !== null) {
      await alarmNoLaterThan(this.ctx.storage, verdict.checkAt);
    }
  }
}
