/**
 * Other servers' answers about spaces and rooms this server is not in, for one
 * client `/hierarchy` request (client-server-api "Spaces": "Where a child room is
 * unknown to the local server, federation is used to fill in the details. The
 * servers listed in the `via` array should be contacted"). As Synapse's
 * `_summarize_remote_room_hierarchy`: the first servers of the `via` are asked in
 * turn with `GET /_matrix/federation/v1/hierarchy/{roomId}` until one gives a valid
 * answer (src/space-hierarchy-federation.ts); every answer is kept for the request,
 * and the children it describes serve as those rooms' summaries when they are not
 * spaces (or their children will not be walked), and those it calls inaccessible
 * are not asked about. A server that is unreachable, refuses or answers badly is
 * passed over; a room nobody answers for is left out, never an error.
 *
 * A page makes at most MAX_REQUESTS requests; once they are spent the walk stops
 * and the rest waits for the next page (src/space-hierarchy.ts `exhausted`).
 */
import { isContactableServerName } from "../../src/identifiers.js";
import { type RemoteHierarchy, type RemoteRoomSummary, parseRemoteHierarchy } from "../../src/space-hierarchy-federation.js";
import { type ChildEvent, MAX_VIA, SPACE_ROOM_TYPE } from "../../src/space-hierarchy.js";
import type { Env } from "../../services/env.js";
import { federationRequest } from "../../services/federation/federation-client.js";

/** Federation requests per page of the client walk (each may wait FEDERATION_TIMEOUT_MS). */
const MAX_REQUESTS = 10;

export interface RemoteRoom {
  summary: RemoteRoomSummary;
  /** Its `m.space.child` events as the answering server gave them (none when only described as another space's child). */
  childrenState: ChildEvent[];
}

export class RemoteSpaces {
  private readonly answers = new Map<string, RemoteHierarchy | null>();
  private readonly described = new Map<string, RemoteRoomSummary>();
  private readonly inaccessible = new Set<string>();
  private requests = 0;

  constructor(
    private readonly env: Env,
    private readonly suggestedOnly: boolean,
    private readonly maxRequests = MAX_REQUESTS,
  ) {}

  /** True once this request's federation budget is spent. */
  exhausted(): boolean {
    return this.requests >= this.maxRequests;
  }

  /** The room as the servers in `via` describe it; undefined if none can or may. */
  async room(roomId: string, via: string[], wantChildren: boolean): Promise<RemoteRoom | undefined> {
    if (this.inaccessible.has(roomId)) return undefined;
    const answered = this.answers.get(roomId);
    if (answered !== undefined) return answered ? { summary: answered.room, childrenState: answered.childrenState } : undefined;
    const described = this.described.get(roomId);
    if (described && (described.room_type !== SPACE_ROOM_TYPE || !wantChildren)) return { summary: described, childrenState: [] };
    const answer = await this.ask(roomId, via);
    this.answers.set(roomId, answer ?? null);
    if (!answer) return undefined;
    for (const [id, summary] of answer.children) if (!this.described.has(id)) this.described.set(id, summary);
    for (const id of answer.inaccessible) this.inaccessible.add(id);
    return { summary: answer.room, childrenState: answer.childrenState };
  }

  private async ask(roomId: string, via: string[]): Promise<RemoteHierarchy | undefined> {
    const servers = [...new Set(via)].filter((s) => s !== this.env.SERVER_NAME && isContactableServerName(s)).slice(0, MAX_VIA);
    const path = `/_matrix/federation/v1/hierarchy/${encodeURIComponent(roomId)}${this.suggestedOnly ? "?suggested_only=true" : ""}`;
    for (const server of servers) {
      if (this.exhausted()) break;
      this.requests++;
      try {
        const parsed = parseRemoteHierarchy(await federationRequest(this.env, server, "GET", path), roomId);
        if (parsed.ok) return parsed.value;
        console.log(`hierarchy: ${server} about ${roomId}: ${parsed.error}`);
      } catch (e) {
        // Unreachable, refused (404 for a room it will not describe) or worse: the next server may know.
        console.log(`hierarchy: asking ${server} about ${roomId} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return undefined;
  }
}
