/**
 * Where the client `/hierarchy` walk (src/space-hierarchy.ts) finds rooms. Rooms
 * this server is in come from the D1 read model, shown if the user may preview
 * them (SummaryLoader, src/room-preview.ts). Any other room — a child on another
 * server, or the root itself — is asked about over federation through the servers
 * the walk carries for it (workers/federation/remote-hierarchy.ts), and shown if
 * the user may see what they describe (Synapse's `_is_remote_room_accessible`): it
 * is public, knockable or world-readable, the user is joined to one of its
 * `allowed_room_ids`, or the user is a member or invitee here (a copy of the room
 * this server kept after leaving, or an invite from another server).
 */
import { isValidRoomId } from "../../src/identifiers.js";
import type { JsonObject } from "../../src/json.js";
import { type RemoteRoomSummary, openToAnyone, summaryJson } from "../../src/space-hierarchy-federation.js";
import type { ChildEvent, HierarchySource, VisitContext } from "../../src/space-hierarchy.js";
import { hasRemoteInvite } from "../../services/d1/remote-invites.js";
import type { Env } from "../../services/env.js";
import { RemoteSpaces } from "../federation/remote-hierarchy.js";
import { currentStateOfTypes } from "./room-power.js";
import { SummaryLoader } from "./room-summaries.js";

/** Children read per space. */
const MAX_CHILDREN = 1000;

export class HierarchyWalkSource implements HierarchySource {
  private readonly loader: SummaryLoader;
  private readonly remote: RemoteSpaces;
  /** The `m.space.child` events other servers gave for the remote spaces shown. */
  private readonly remoteChildren = new Map<string, ChildEvent[]>();

  constructor(
    private readonly env: Env,
    private readonly userId: string,
    suggestedOnly: boolean,
  ) {
    this.loader = new SummaryLoader(env.DB, userId, { ownServer: env.SERVER_NAME });
    this.remote = new RemoteSpaces(env, suggestedOnly);
  }

  /** Whether a user of this server is in the room (its summary is then read here). */
  async isLocal(roomId: string): Promise<boolean> {
    return (await this.loader.entry(roomId))?.serverJoined === true;
  }

  async room(roomId: string, ctx: VisitContext): Promise<JsonObject | undefined> {
    if (await this.isLocal(roomId)) return (await this.loader.visibleSummary(roomId))?.summary;
    if (!isValidRoomId(roomId)) return undefined;
    const found = await this.remote.room(roomId, ctx.via, ctx.wantChildren);
    if (!found || !(await this.userMaySee(roomId, found.summary))) return undefined;
    this.remoteChildren.set(roomId, found.childrenState);
    return summaryJson(found.summary);
  }

  async children(roomId: string): Promise<ChildEvent[]> {
    return this.remoteChildren.get(roomId) ?? currentStateOfTypes(this.env.DB, roomId, ["m.space.child"], undefined, MAX_CHILDREN);
  }

  prefetch(roomIds: string[]): Promise<void> {
    return this.loader.load(roomIds);
  }

  exhausted(): boolean {
    return this.remote.exhausted();
  }

  private async userMaySee(roomId: string, summary: RemoteRoomSummary): Promise<boolean> {
    if (openToAnyone(summary)) return true;
    if (summary.allowed_room_ids?.length && (await this.loader.inAnyRoom(summary.allowed_room_ids))) return true;
    if (await this.loader.visibleSummary(roomId)) return true;
    return hasRemoteInvite(this.env.DB, roomId, this.userId);
  }
}
