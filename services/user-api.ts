/** The User Durable Object's RPC surface (durable-objects/user/user.ts implements it). */
export interface UserApi extends Rpc.DurableObjectBranded {
  /** Presence timeout for this user. */
  schedulePresenceCheck(userId: string, at: number): Promise<void>;
  /** Something for this user was written at stream position `pos`: wake every waiter behind it. */
  notify(pos: number): Promise<void>;
  /** A position past `since` as soon as one is notified, or `since` after `timeoutMs`. */
  waitForChange(since: number, timeoutMs: number): Promise<number>;
}
