/**
 * `m.room.canonical_alias` and the alias directory: a client may only advertise
 * aliases that point to the room (room_state.yaml: 400 M_BAD_ALIAS), and deleting an
 * alias takes it out of the canonical alias event (directory.yaml, as Synapse).
 */
import { MatrixError } from "../../src/errors.js";
import { parseRoomAlias } from "../../src/identifiers.js";
import type { JsonObject } from "../../src/json.js";
import { newCanonicalAliases, withoutAlias } from "../../src/room-alias.js";
import type { Env } from "../../services/env.js";
import { roomsOfAliases } from "../../services/d1/room-aliases.js";
import { currentStateOfTypes } from "./room-power.js";
import { roomStub } from "./room-rpc.js";
import { unwrap } from "../../src/room-result.js";

const badAlias = (alias: string) => new MatrixError("M_BAD_ALIAS", `Room alias ${alias} does not point to the room`, 400);

/**
 * Checks a canonical alias event a client is about to send: every alias it adds must
 * be valid (M_INVALID_PARAM) and map to this room (M_BAD_ALIAS). Aliases of other
 * servers cannot be resolved without federation, so they are refused as well.
 */
export async function checkCanonicalAliasContent(env: Env, roomId: string, stateKey: string, content: JsonObject): Promise<void> {
  const previous = (await currentStateOfTypes(env.DB, roomId, ["m.room.canonical_alias"], stateKey, 1))[0]?.content;
  const added = newCanonicalAliases(content, previous);
  if (!added.length) return;
  const target = await roomsOfAliases(env.DB, added);
  for (const alias of added) {
    if (parseRoomAlias(alias)?.domain !== env.SERVER_NAME) {
      throw new MatrixError("M_BAD_ALIAS", `Room alias ${alias} cannot be checked: resolving other servers' aliases needs federation`, 400);
    }
    if (target.get(alias) !== roomId) throw badAlias(alias);
  }
}

/**
 * After `alias` was deleted: sends a canonical alias event without it, as `sender`, if
 * the room's canonical alias named it. Best effort — without the power to send it the
 * alias is still deleted (directory.yaml note).
 */
export async function removeFromCanonicalAlias(env: Env, roomId: string, alias: string, sender: string): Promise<void> {
  const current = (await currentStateOfTypes(env.DB, roomId, ["m.room.canonical_alias"], "", 1))[0];
  const next = current ? withoutAlias(current.content, alias) : undefined;
  if (!next) return;
  try {
    await unwrap(roomStub(env, roomId).send({ type: "m.room.canonical_alias", state_key: "", content: next, sender }));
  } catch (e) {
    if (!(e instanceof MatrixError)) throw e;
    console.log(`alias ${alias} deleted; canonical alias of ${roomId} not updated: ${e.message}`);
  }
}
