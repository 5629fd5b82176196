/** The User Durable Object's RPC surface (durable-objects/user/user.ts implements it). */

/** What a room was last sent with on a sliding-sync connection (durable-objects/user/sliding-sync-connections.ts). */
export interface SlidingSyncRoomSent {
  /** Stream position the room's timeline and state were sent up to. */
  upTo: number;
  /** The effective config it was sent with (src/sliding-sync.ts configKey). */
  config: string;
  /** The user's membership when it was sent: a change means sending the room afresh. */
  membership: string;
  /** The timeline limit it was sent with, for MSC4186's expanded timeline. */
  timelineLimit: number;
}

/** A connection position as `pos` carries it (src/sliding-sync.ts formatPos). */
export interface SlidingSyncPos {
  nonce: string;
  n: number;
}

export interface SlidingSyncConnection {
  nonce: string;
  /** The connection position the state is as of (0 for a new connection). */
  n: number;
  /** The stream position of that response; null for a new connection. */
  streamPos: number | null;
  rooms: Record<string, SlidingSyncRoomSent>;
  /** The ranked room list as of that response, as src/sliding-sync.ts encodeRoomList wrote it (null for a new connection). */
  list: string | null;
  /** Each list's count in that response (null for a new connection). */
  counts: Record<string, number> | null;
}

export interface UserApi extends Rpc.DurableObjectBranded {
  /** Presence timeout for this user. */
  schedulePresenceCheck(userId: string, at: number): Promise<void>;
  /** Sliding sync: the connection's state as of `pos` (null: unknown pos). */
  slidingSyncResume(deviceId: string, connId: string, pos: SlidingSyncPos): Promise<SlidingSyncConnection | null>;
  /**
   * Sliding sync: records a response issued from `from`, or the first response of a new connection (`from`
   * null: whatever was kept under this conn_id is dropped); the new position, or null if the connection is gone.
   */
  slidingSyncCommit(
    deviceId: string,
    connId: string,
    from: SlidingSyncPos | null,
    streamPos: number,
    rooms: Record<string, SlidingSyncRoomSent>,
    list: string,
    counts: Record<string, number>,
  ): Promise<SlidingSyncPos | null>;
}
