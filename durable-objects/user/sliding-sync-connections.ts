/**
 * Sliding-sync connections (MSC4186 "Connections") of one user, kept in the
 * user's Durable Object SQLite: per (device, conn_id), what each room was last
 * sent with (the stream position it was sent up to, the config, the membership),
 * so each response carries only what changed since the `pos` it answers.
 *
 * Positions form a short chain. A response issued from `pos` n records its rooms
 * under a new position m with parent n. When a request arrives with m, the client
 * has accepted m: every other position (a cancelled request's sibling answer, or
 * answers issued from m that the client never saw) is dropped with its rows, and
 * m's ancestors become the base. The same `pos` may arrive twice (clients cancel
 * and resend); only the next `pos` moves state forward.
 *
 * Forgotten, with the client then told M_UNKNOWN_POS: connections unused for
 * CONNECTION_EXPIRY_MS (Synapse: 7 days), and any position not issued or
 * already superseded.
 */
import type { SlidingSyncConnection, SlidingSyncRoomSent } from "../../services/user-api.js";

export const CONNECTION_EXPIRY_MS = 7 * 24 * 3600 * 1000;

export const SLIDING_SYNC_SCHEMA: readonly string[] = [
  // last_n: the last position issued, so a position is never issued twice (not even after its row was dropped).
  `CREATE TABLE IF NOT EXISTS ss_conn (device_id TEXT NOT NULL, conn_id TEXT NOT NULL, nonce TEXT NOT NULL, last_used INTEGER NOT NULL, last_n INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (device_id, conn_id))`,
  `CREATE TABLE IF NOT EXISTS ss_pos (device_id TEXT NOT NULL, conn_id TEXT NOT NULL, n INTEGER NOT NULL, parent INTEGER, stream_pos INTEGER NOT NULL, PRIMARY KEY (device_id, conn_id, n))`,
  `CREATE TABLE IF NOT EXISTS ss_room (device_id TEXT NOT NULL, conn_id TEXT NOT NULL, n INTEGER NOT NULL, room_id TEXT NOT NULL, sent TEXT NOT NULL, PRIMARY KEY (device_id, conn_id, room_id, n))`,
  // The ranked room list as of a position, so the next response reads only what changed in D1 (opaque here:
  // src/sliding-sync.ts encodeRoomList).
  `CREATE TABLE IF NOT EXISTS ss_list (device_id TEXT NOT NULL, conn_id TEXT NOT NULL, n INTEGER NOT NULL, list TEXT NOT NULL, PRIMARY KEY (device_id, conn_id, n))`,
];

/** Each list's count as last sent, so a response whose counts moved is news even with no room in it (user.ts step 3). */
export const SLIDING_SYNC_COUNTS = "ALTER TABLE ss_pos ADD COLUMN counts TEXT";

function randomNonce(): string {
  const b = new Uint8Array(9);
  crypto.getRandomValues(b);
  return btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_");
}

export class SlidingSyncConnections {
  constructor(private readonly sql: SqlStorage) {}

  /** A new connection (no `pos`): whatever was kept under this conn_id is dropped. */
  open(deviceId: string, connId: string, now: number): SlidingSyncConnection {
    this.forget(deviceId, connId);
    this.expire(now);
    const nonce = randomNonce();
    this.sql.exec("INSERT INTO ss_conn (device_id, conn_id, nonce, last_used) VALUES (?, ?, ?, ?)", deviceId, connId, nonce, now);
    return { nonce, n: 0, streamPos: null, rooms: {}, list: null, counts: null };
  }

  /** The state as of an issued position, or null if it is unknown (M_UNKNOWN_POS). */
  resume(deviceId: string, connId: string, nonce: string, n: number, now: number): SlidingSyncConnection | null {
    const conn = this.sql.exec<{ nonce: string; last_used: number }>("SELECT nonce, last_used FROM ss_conn WHERE device_id = ? AND conn_id = ?", deviceId, connId).toArray()[0];
    if (!conn || conn.nonce !== nonce) return null;
    if (conn.last_used < now - CONNECTION_EXPIRY_MS) {
      this.forget(deviceId, connId);
      return null;
    }
    const at = this.sql
      .exec<{ stream_pos: number; counts: string | null }>("SELECT stream_pos, counts FROM ss_pos WHERE device_id = ? AND conn_id = ? AND n = ?", deviceId, connId, n)
      .toArray()[0];
    if (!at) return null;
    // The client accepted n: answers it never used are dropped, and n's ancestors become the base.
    const chain = new Set([n]);
    const parents = this.sql.exec<{ n: number; parent: number | null }>("SELECT n, parent FROM ss_pos WHERE device_id = ? AND conn_id = ?", deviceId, connId).toArray();
    const parentOf = new Map(parents.map((p) => [p.n, p.parent]));
    for (let p = parentOf.get(n); p !== undefined && p !== null && !chain.has(p); p = parentOf.get(p)) chain.add(p);
    const dead = parents.map((p) => p.n).filter((x) => !chain.has(x));
    if (dead.length) {
      const list = JSON.stringify(dead);
      this.sql.exec("DELETE FROM ss_room WHERE device_id = ? AND conn_id = ? AND n IN (SELECT value FROM json_each(?))", deviceId, connId, list);
    }
    this.sql.exec("DELETE FROM ss_pos WHERE device_id = ? AND conn_id = ? AND n != ?", deviceId, connId, n);
    this.sql.exec("DELETE FROM ss_list WHERE device_id = ? AND conn_id = ? AND n != ?", deviceId, connId, n);
    this.sql.exec("UPDATE ss_pos SET parent = NULL WHERE device_id = ? AND conn_id = ? AND n = ?", deviceId, connId, n);
    // One row per room: the latest.
    this.sql.exec(
      "DELETE FROM ss_room WHERE device_id = ?1 AND conn_id = ?2 AND EXISTS (SELECT 1 FROM ss_room r2 WHERE r2.device_id = ?1 AND r2.conn_id = ?2 AND r2.room_id = ss_room.room_id AND r2.n > ss_room.n)",
      deviceId,
      connId,
    );
    this.sql.exec("UPDATE ss_conn SET last_used = ? WHERE device_id = ? AND conn_id = ?", now, deviceId, connId);
    const rooms: Record<string, SlidingSyncRoomSent> = {};
    for (const r of this.sql.exec<{ room_id: string; sent: string }>("SELECT room_id, sent FROM ss_room WHERE device_id = ? AND conn_id = ?", deviceId, connId)) {
      rooms[r.room_id] = JSON.parse(r.sent) as SlidingSyncRoomSent;
    }
    const list = this.sql.exec<{ list: string }>("SELECT list FROM ss_list WHERE device_id = ? AND conn_id = ? AND n = ?", deviceId, connId, n).toArray()[0];
    return { nonce, n, streamPos: at.stream_pos, rooms, list: list?.list ?? null, counts: at.counts === null ? null : (JSON.parse(at.counts) as Record<string, number>) };
  }

  /** Records a response: a new position after `parent` and what each room in it was sent with. Returns the new position. */
  commit(
    deviceId: string,
    connId: string,
    nonce: string,
    parent: number,
    streamPos: number,
    rooms: Record<string, SlidingSyncRoomSent>,
    list: string,
    counts: Record<string, number>,
  ): number | null {
    const conn = this.sql.exec<{ nonce: string; last_n: number }>("SELECT nonce, last_n FROM ss_conn WHERE device_id = ? AND conn_id = ?", deviceId, connId).toArray()[0];
    if (!conn || conn.nonce !== nonce) return null;
    const n = Math.max(conn.last_n, parent) + 1;
    this.sql.exec("UPDATE ss_conn SET last_n = ? WHERE device_id = ? AND conn_id = ?", n, deviceId, connId);
    this.sql.exec(
      "INSERT INTO ss_pos (device_id, conn_id, n, parent, stream_pos, counts) VALUES (?, ?, ?, ?, ?, ?)",
      deviceId,
      connId,
      n,
      parent,
      streamPos,
      JSON.stringify(counts),
    );
    this.sql.exec("INSERT INTO ss_list (device_id, conn_id, n, list) VALUES (?, ?, ?, ?)", deviceId, connId, n, list);
    for (const [roomId, sent] of Object.entries(rooms)) {
      this.sql.exec("INSERT INTO ss_room (device_id, conn_id, n, room_id, sent) VALUES (?, ?, ?, ?, ?)", deviceId, connId, n, roomId, JSON.stringify(sent));
    }
    return n;
  }

  private forget(deviceId: string, connId: string): void {
    for (const t of ["ss_conn", "ss_pos", "ss_room", "ss_list"]) this.sql.exec(`DELETE FROM ${t} WHERE device_id = ? AND conn_id = ?`, deviceId, connId);
  }

  private expire(now: number): void {
    const old = this.sql.exec<{ device_id: string; conn_id: string }>("SELECT device_id, conn_id FROM ss_conn WHERE last_used < ?", now - CONNECTION_EXPIRY_MS).toArray();
    for (const c of old) this.forget(c.device_id, c.conn_id);
  }
}
