/**
 * Steps 1–3 of "Checks performed on receipt of a PDU" (server-server-api), done
 * outside any Room DO because they need the network (other servers' keys):
 * 1. a valid event of the room's version (format, sizes);
 * 2. signed by every server that must sign it (the sender's; v1/v2 the event
 *    id's; a restricted join's authorising server when it signed) → else dropped;
 * 3. the content hash matches → else the redacted copy is used.
 * The Room DO then runs steps 4–6 (durable-objects/room/receive.ts).
 */
import { MatrixError } from "../../src/errors.js";
import { isJsonObject } from "../../src/json.js";
import { eventIdFor } from "../../src/event-id.js";
import { validateEventFormat } from "../../src/event-format.js";
import { checkContentHash, requiredSignatureServers, verifyEventServerSignature } from "../../src/hashes.js";
import { userIdDomain } from "../../src/identifiers.js";
import type { Pdu } from "../../src/pdu.js";
import { redactEvent } from "../../src/redaction.js";
import type { RoomVersion } from "../../src/room-versions.js";
import type { KeyLookup, VerifyKey } from "../../src/signing.js";
import type { Env } from "../env.js";
import { getServerKeys } from "../server-keys.js";
import { refreshServerKeys } from "./remote-keys.js";

export type IntakeResult = { ok: true; eventId: string; pdu: Pdu } | { ok: false; eventId?: string; error: string };

/** The servers whose signatures this event must carry (step 2). */
function signersOf(pdu: Pdu, version: RoomVersion): string[] {
  const servers = requiredSignatureServers(pdu, version);
  const via = pdu.type === "m.room.member" && pdu.content.membership === "join" ? pdu.content.join_authorised_via_users_server : undefined;
  // A restricted join names a member whose server signs it (member rule, v8+); the auth rules need the signature present.
  if (version.restrictedJoinRule && typeof via === "string") {
    const d = userIdDomain(via);
    if (d && pdu.signatures?.[d] && !servers.includes(d)) servers.push(d);
  }
  return servers;
}

/** Every key of `servers` we know, fetching servers that signed with a key id we do not have. */
export async function loadKeys(env: Env, wanted: Map<string, Set<string>>): Promise<KeyLookup> {
  const keys = new Map<string, VerifyKey>();
  const own = await getServerKeys(env);
  keys.set(`${env.SERVER_NAME} ${own.keyId}`, { key: own.publicKey });
  for (const o of own.old) keys.set(`${env.SERVER_NAME} ${o.keyId}`, { key: o.publicKey, expiredTs: o.expiredTs });
  const remote = [...wanted.keys()].filter((s) => s !== env.SERVER_NAME);
  const read = async (servers: string[]) => {
    if (servers.length === 0) return;
    const { results } = await env.DB.prepare(
      "SELECT server_name, key_id, public_key, valid_until_ts, expired_ts FROM remote_server_keys WHERE server_name IN (SELECT value FROM json_each(?))",
    )
      .bind(JSON.stringify(servers))
      .all<{ server_name: string; key_id: string; public_key: string; valid_until_ts: number; expired_ts: number | null }>();
    for (const r of results) {
      keys.set(`${r.server_name} ${r.key_id}`, r.expired_ts !== null ? { key: r.public_key, expiredTs: r.expired_ts } : { key: r.public_key, validUntilTs: r.valid_until_ts });
    }
  };
  await read(remote);
  const stale = remote.filter((s) => [...wanted.get(s)!].some((k) => !keys.has(`${s} ${k}`)));
  // A server that cannot be reached leaves its events unverifiable (they are dropped), nothing else.
  await Promise.all(stale.map((s) => refreshServerKeys(env, s).catch(() => undefined)));
  await read(stale);
  return { get: (server, keyId) => keys.get(`${server} ${keyId}`) };
}

/**
 * Steps 1–3 for PDUs of one room version. Order is kept; each PDU has its own result.
 * `history`: pulled history (/backfill and what is fetched with it), whose prev and auth
 * event counts are not limited (src/event-format.ts).
 */
export async function checkPdus(env: Env, version: RoomVersion, raws: unknown[], opts: { history?: boolean } = {}): Promise<IntakeResult[]> {
  const formatted = raws.map((raw) => {
    const f = validateEventFormat(raw, version, opts);
    if (!f.ok) return { ok: false as const, error: `${f.error.errcode}: ${f.error.message}` };
    try {
      return { ok: true as const, pdu: f.pdu, eventId: eventIdFor(f.pdu, version) };
    } catch (e) {
      return { ok: false as const, error: `event id: ${(e as Error).message}` };
    }
  });
  const wanted = new Map<string, Set<string>>();
  for (const f of formatted) {
    if (!f.ok) continue;
    for (const server of signersOf(f.pdu, version)) {
      let set = wanted.get(server);
      if (!set) wanted.set(server, (set = new Set()));
      for (const keyId of Object.keys(f.pdu.signatures?.[server] ?? {})) set.add(keyId);
    }
  }
  const keys = await loadKeys(env, wanted);
  return formatted.map((f): IntakeResult => {
    if (!f.ok) return f;
    for (const server of signersOf(f.pdu, version)) {
      const check = verifyEventServerSignature(f.pdu, version, server, keys);
      if (!check.ok) return { ok: false, eventId: f.eventId, error: `signature: ${check.error}` };
    }
    // Step 3: a wrong content hash keeps the event, redacted (the signature covers only the redacted form).
    const pdu = checkContentHash(f.pdu, version) ? f.pdu : redactEvent(f.pdu, version);
    return { ok: true, eventId: f.eventId, pdu };
  });
}

/**
 * The error for one event a server sent us directly (send_join, send_leave,
 * send_knock, invite) that failed steps 1–3: an unsigned or wrongly signed event is
 * 403 M_FORBIDDEN (Synapse checks signatures first), any other malformation 400 M_BAD_JSON.
 */
export function intakeRefusal(raw: unknown, result: IntakeResult | undefined, what: string): MatrixError {
  const error = result && !result.ok ? result.error : "missing";
  const signatures = isJsonObject(raw) ? raw.signatures : undefined;
  const hashes = isJsonObject(raw) ? raw.hashes : undefined;
  if (error.startsWith("signature") || !isJsonObject(signatures) || Object.keys(signatures).length === 0 || !isJsonObject(hashes)) {
    return new MatrixError("M_FORBIDDEN", `${what}: ${error}`, 403);
  }
  return new MatrixError("M_BAD_JSON", `${what}: ${error}`, 400);
}

/** Steps 1–3 for what a server sent in a list (`unknown`: anything but an array is none), keeping the PDUs that pass. */
export async function passingPdus(env: Env, version: RoomVersion, list: unknown): Promise<Array<{ eventId: string; pdu: Pdu }>> {
  const checked = await checkPdus(env, version, Array.isArray(list) ? list : []);
  return checked.flatMap((c) => (c.ok ? [{ eventId: c.eventId, pdu: c.pdu }] : []));
}
