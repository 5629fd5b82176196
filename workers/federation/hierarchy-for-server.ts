/**
 * Our answer to another server's `GET /_matrix/federation/v1/hierarchy/{roomId}`
 * (server-server-api "Spaces"; src/space-hierarchy-federation.ts), from the D1
 * read model, as Synapse's `get_federation_hierarchy`:
 *
 * - the room must be one this server is in, and one the requesting server may see
 *   (src/room-preview.ts with the server's users taken together: public or
 *   knockable, world-readable, a user of it joined or invited, or, for a restricted
 *   room, joined to an allowed room) — else 404 M_NOT_FOUND, as for an unknown room;
 * - `room` is its summary (with `allowed_room_ids`, which the requesting server
 *   needs to decide for its users) and, for a space, its valid `m.space.child`
 *   events (suggested ones only if asked), in the spec's order;
 * - of the first 50 children, those this server is in are described in `children`
 *   if the requesting server may see them, else listed in `inaccessible_children`
 *   (also when the child's ACL denies the requesting server); children this server
 *   is not in are left out: it cannot tell.
 *
 * The root's ACL is checked by the route (workers/middleware/server-acl.ts).
 */
import { notFound } from "../../src/errors.js";
import type { JsonObject } from "../../src/json.js";
import { serverAllowed } from "../../src/server-acl.js";
import { MAX_CHILDREN_PER_SPACE, hierarchyAnswer } from "../../src/space-hierarchy-federation.js";
import { SPACE_ROOM_TYPE, spaceChildren, strippedChild } from "../../src/space-hierarchy.js";
import { roomServerAcls } from "../../services/d1/server-acl.js";
import type { Env } from "../../services/env.js";
import { currentStateOfTypes } from "../rooms/room-power.js";
import { SummaryLoader } from "../rooms/room-summaries.js";

/** Child events read per space (as the client hierarchy). */
const MAX_CHILD_EVENTS = 1000;

export async function hierarchyForServer(env: Env, origin: string, roomId: string, suggestedOnly: boolean): Promise<JsonObject> {
  const db = env.DB;
  const loader = new SummaryLoader(db, { server: origin }, { ownServer: env.SERVER_NAME });
  const root = await loader.entry(roomId);
  const visible = root?.serverJoined ? await loader.visibleSummary(roomId) : undefined;
  if (!visible) throw notFound(`Unknown room: ${roomId}`);
  const events = visible.summary.room_type === SPACE_ROOM_TYPE ? spaceChildren(await currentStateOfTypes(db, roomId, ["m.space.child"], undefined, MAX_CHILD_EVENTS), suggestedOnly) : [];
  const ids = [...new Set(events.slice(0, MAX_CHILDREN_PER_SPACE).map((e) => e.state_key))].filter((id) => id !== roomId);
  await loader.load(ids);
  const acls = await roomServerAcls(db, ids);
  const children: JsonObject[] = [];
  const inaccessible: string[] = [];
  for (const id of ids) {
    const entry = await loader.entry(id);
    if (!entry?.serverJoined) continue;
    const child = serverAllowed(acls.get(id), origin) ? await loader.visibleSummary(id) : undefined;
    if (child) children.push(child.summary);
    else inaccessible.push(id);
  }
  return hierarchyAnswer(visible.summary, events.map(strippedChild), children, inaccessible);
}
