/** The Federation Durable Object's RPC surface (durable-objects/federation/federation.ts implements it). */
export interface FederationApi extends Rpc.DurableObjectBranded {
  /** The destination server name once bound to this object, or null. */
  destination(): Promise<string | null>;
}
