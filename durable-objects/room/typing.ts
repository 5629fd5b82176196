/**
 * Typing notifications of one room, kept by the room's Durable Object
 * (client-server-api "Typing Notifications").
 *
 * Design: the timeout has to fire with nobody calling, so a timer is needed, and
 * only Durable Objects have one (the alarm). The room's own object is the natural
 * owner: it already knows the current membership (the 403 check for free) and
 * who the local members are (the wake-ups), without a D1 read.
 *
 * - Each typer and their expiry live in the object's SQLite (a restart or
 *   eviction loses nothing; the alarm survives both).
 * - /sync never calls Durable Objects: whenever the *set* of typers changes
 *   (someone starts, stops, or times out) the object writes the whole set to D1
 *   `room_typing` under a new stream position and wakes the joined local members.
 *   The alarm is what makes a timeout visible with no further request.
 * - A refresh by someone already typing (clients re-send every few seconds) only
 *   moves their expiry: one local SQLite upsert, no D1 write, no wake-ups.
 * - Writes to D1 are serialised and always carry the latest set, so the last one
 *   wins; a failed write is retried from the alarm.
 *
 * The room's single alarm is shared with the outbox: typing only ever moves it
 * earlier (`alarmNoLaterThan`), the outbox keeps typing's due time when it arms or
 * clears it (`earlier`, `rearmOrDelete`), and `alarm()` runs both.
 */
import { MatrixError } from "../../src/errors.js";
import { type TypingMap, applyTyping, expireTyping, nextTypingExpiry, typingUsers } from "../../src/typing.js";
import type { Env } from "../../services/env.js";
import { Topic, notifyUsers } from "../../services/wake.js";
import { STREAM_POS, advanceStream, streamPosOf } from "../../services/stream.js";
import { alarmNoLaterThan } from "../alarm.js";

const TYPING_TABLE = "CREATE TABLE IF NOT EXISTS typing (user_id TEXT PRIMARY KEY, expires_ts INTEGER NOT NULL)";
/** Delay before retrying a failed D1 write. */
const PUBLISH_RETRY_MS = 2_000;

/** What the typing state needs from the room it belongs to. */
export interface TypingRoom {
  roomId(): string;
  /** The user's current membership in the room, or null. */
  membership(userId: string): string | null;
  /** Joined members of this server, to wake. */
  localJoinedMembers(): string[];
}

export class RoomTyping {
  private map: TypingMap | null = null;
  /** JSON of the set last written to D1; null when unknown (after a restart or a failed write). */
  private published: string | null = null;
  private publishing: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly room: TypingRoom,
  ) {}

  /** PUT /rooms/{roomId}/typing/{userId}: only members who are joined may type. */
  async set(userId: string, typing: boolean, timeoutMs: number): Promise<void> {
    if (this.room.membership(userId) !== "join") throw new MatrixError("M_FORBIDDEN", "You are not joined to this room", 403);
    const now = Date.now();
    const map = this.load();
    applyTyping(map, userId, typing, timeoutMs, now);
    const sql = this.ctx.storage.sql;
    if (map.has(userId)) sql.exec("INSERT OR REPLACE INTO typing (user_id, expires_ts) VALUES (?, ?)", userId, map.get(userId)!);
    else sql.exec("DELETE FROM typing WHERE user_id = ?", userId);
    await this.publish();
    await this.schedule();
  }

  /** Alarm: drop expired typers, (re)publish if the set changed, arm the next expiry. */
  async onAlarm(): Promise<void> {
    if (!this.hasTable()) return;
    const map = this.load();
    const now = Date.now();
    if (expireTyping(map, now)) this.ctx.storage.sql.exec("DELETE FROM typing WHERE expires_ts <= ?", now);
    await this.publish();
    await this.schedule();
  }

  private hasTable(): boolean {
    return this.map !== null || this.ctx.storage.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'typing'").toArray().length > 0;
  }

  private load(): TypingMap {
    if (this.map) return this.map;
    const sql = this.ctx.storage.sql;
    sql.exec(TYPING_TABLE);
    this.map = new Map(sql.exec<{ user_id: string; expires_ts: number }>("SELECT user_id, expires_ts FROM typing").toArray().map((r) => [r.user_id, r.expires_ts]));
    return this.map;
  }

  /** When the alarm must next run for typing (an expiry, or a retry of a failed write), or null. */
  nextDue(): number | null {
    if (!this.hasTable()) return null;
    const at = nextTypingExpiry(this.load());
    if (this.published !== null) return at;
    return Math.min(at ?? Infinity, Date.now() + PUBLISH_RETRY_MS);
  }

  /** `t`, or typing's own due time if that is earlier (for the room's other alarm uses). */
  earlier(t: number): number {
    return Math.min(t, this.nextDue() ?? Infinity);
  }

  /** The room no longer needs its alarm for itself: keep it for typing, or delete it. */
  async rearmOrDelete(): Promise<void> {
    const at = this.nextDue();
    if (at === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(at);
  }

  private async schedule(): Promise<void> {
    const at = this.nextDue();
    if (at !== null) await alarmNoLaterThan(this.ctx.storage, at);
  }

  /** Writes the current set to D1 if it differs from the last one written; one write at a time. */
  private publish(): Promise<void> {
    const run = this.publishing.then(() => this.publishOnce());
    this.publishing = run.catch(() => undefined);
    return run;
  }

  private async publishOnce(): Promise<void> {
    const now = Date.now();
    // Someone who left while typing is not typing any more.
    const users = typingUsers(this.load(), now).filter((u) => this.room.membership(u) === "join");
    const json = JSON.stringify(users);
    if (json === this.published) return;
    const db = this.env.DB;
    try {
      const results = await db.batch([
        advanceStream(db),
        db
          .prepare(
            `INSERT INTO room_typing (room_id, user_ids, stream_pos) VALUES (?, ?, ${STREAM_POS}) ` +
              "ON CONFLICT (room_id) DO UPDATE SET user_ids = excluded.user_ids, stream_pos = excluded.stream_pos",
          )
          .bind(this.room.roomId(), json),
      ]);
      this.published = json;
      this.ctx.waitUntil(notifyUsers(this.env, this.room.localJoinedMembers(), streamPosOf(results), Topic.ROOMS));
    } catch (e) {
      // Typing is best effort: answer the client, retry from the alarm (see schedule()).
      console.error(`room ${this.room.roomId()}: typing publish failed, will retry`, e);
      this.published = null;
    }
  }
}
