/** The Wake Durable Object's RPC surface (durable-objects/wake/wake.ts implements it; services/wake.ts uses it). */
export interface WakeApi extends Rpc.DurableObjectBranded {
  /** Something for these users (all of this shard) on `topics` (services/wake.ts Topic) was written at stream position `pos`: wake their waiters behind it on those topics. */
  notify(userIds: string[], pos: number, topics: number): Promise<void>;
  /** Whether a sync of the user is waiting on this shard right now (presence: a waiting client is online). */
  isWaiting(userId: string): Promise<boolean>;
}
