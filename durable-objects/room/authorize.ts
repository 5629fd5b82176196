/**
 * Step "authorise" of the room's event pipeline: an event against a given state
 * (server-server-api "Checks performed on receipt of a PDU", steps 5 and 6: the
 * state before the event, and the current state). Local events are checked
 * against the current state; received PDUs will be checked against both.
 * Synchronous over the room's SQLite, so it runs inside the write transaction.
 */
import { type AuthOptions, authTypesForEvent, checkEventAuth } from "../../src/auth-rules.js";
import { MatrixError } from "../../src/errors.js";
import { type Pdu, type StateMap, stateKey } from "../../src/pdu.js";
import { redactLevel, userPowerLevel } from "../../src/power-levels.js";
import type { RoomVersion } from "../../src/room-versions.js";
import type { EventRow, RoomStore } from "./room-store.js";

/** The current-state events an event of this shape cites as auth events (create event excluded from v12 on by the rules). */
export function currentAuthRows(store: RoomStore, version: RoomVersion, draft: Pick<Pdu, "type" | "sender" | "content" | "state_key">): EventRow[] {
  return authTypesForEvent(version, draft as Pdu)
    .map(([ty, sk]) => store.currentStateEvent(ty, sk))
    .filter((r): r is EventRow => r !== undefined);
}

/**
 * Authorises `ev` against the state made of `stateRows` (the create event always
 * included, also for v12 where it is not cited). Throws 403 M_FORBIDDEN with the
 * auth rule's reason.
 */
export function authorizeAgainst(store: RoomStore, version: RoomVersion, ev: { eventId: string; pdu: Pdu }, stateRows: EventRow[]): StateMap<Pdu> {
  const state: StateMap<Pdu> = new Map();
  const ids = new Map<Pdu, string>();
  const create = store.currentStateEvent("m.room.create", "");
  for (const r of [...stateRows, create].filter((r): r is EventRow => r !== undefined)) {
    const pdu = store.pduOf(r);
    state.set(stateKey(r.type, r.state_key ?? ""), pdu);
    ids.set(pdu, r.event_id);
  }
  ids.set(ev.pdu, ev.eventId);
  const options: AuthOptions = { eventId: (p) => ids.get(p) };
  const result = checkEventAuth(version, ev.pdu, state, options);
  if (!result.ok) throw new MatrixError("M_FORBIDDEN", result.reason, 403);
  return state;
}

/** The event a redaction targets (top-level `redacts` before v11, `content.redacts` from v11). */
export function redactionTarget(pdu: Pdu): string | undefined {
  if (typeof pdu.redacts === "string") return pdu.redacts;
  return typeof pdu.content.redacts === "string" ? pdu.content.redacts : undefined;
}

/**
 * Local redactions by anyone but the original sender need the redact power level
 * (client-server-api "Redactions": the server checks this before sending; over
 * federation it is checked when the redaction is applied).
 */
export function checkLocalRedaction(store: RoomStore, version: RoomVersion, pdu: Pdu, state: StateMap<Pdu>): void {
  const target = redactionTarget(pdu);
  if (!target) throw new MatrixError("M_BAD_JSON", "Redaction without a target event", 400);
  const row = store.eventById(target);
  if (!row || row.sender === pdu.sender) return;
  const create = state.get(stateKey("m.room.create", ""));
  const pl = state.get(stateKey("m.room.power_levels", ""));
  if (userPowerLevel(version, pdu.sender, create, pl) < redactLevel(version, pl)) {
    throw new MatrixError("M_FORBIDDEN", "You may only redact your own events", 403);
  }
}
