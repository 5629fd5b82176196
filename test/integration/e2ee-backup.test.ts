import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type BackupKeyMeta, MEGOLM_BACKUP_V1, SHOULD_REPLACE_SQL, shouldReplaceRoomKey } from "../../src/key-backup.js";
import { get, post, put } from "./e2ee-helpers.js";
import { callJson, registerUser, type TestUser } from "./helpers.js";

const AUTH_DATA = { public_key: "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo", signatures: { "@a:localhost:8008": { "ed25519:DEV": "sig" } } };
const del = (path: string, token: string) => callJson(`/_matrix/client/v3${path}`, { method: "DELETE", token });

function session(is_verified: boolean, first_message_index: number, forwarded_count: number, tag = "x") {
  return { first_message_index, forwarded_count, is_verified, session_data: { ephemeral: "e", ciphertext: tag, mac: "m" } };
}

async function newVersion(u: TestUser, authData: object = AUTH_DATA): Promise<string> {
  const r = await post<{ version: string }>("/room_keys/version", u.accessToken, { algorithm: MEGOLM_BACKUP_V1, auth_data: authData });
  expect(r.status).toBe(200);
  return r.body.version;
}

const ROOM = "!room:localhost:8008";
const enc = encodeURIComponent;

describe("backup versions", () => {
  it("no backup is 404 M_NOT_FOUND; versions count up and echo auth_data with count and etag", async () => {
    const alice = await registerUser();
    const none = await get("/room_keys/version", alice.accessToken);
    expect(none.status).toBe(404);
    expect(none.body.errcode).toBe("M_NOT_FOUND");
    expect(await newVersion(alice)).toBe("1");
    const info = await get("/room_keys/version", alice.accessToken);
    expect(info.body).toEqual({ algorithm: MEGOLM_BACKUP_V1, auth_data: AUTH_DATA, count: 0, etag: "0", version: "1" });
    expect((await get("/room_keys/version/1", alice.accessToken)).body).toEqual(info.body);
    expect(await newVersion(alice, { public_key: "other" })).toBe("2");
    expect((await get("/room_keys/version", alice.accessToken)).body.version).toBe("2");
    expect((await get("/room_keys/version/1", alice.accessToken)).body.version).toBe("1");
    for (const v of ["3", "0", "abc", "1.0"]) {
      const r = await get(`/room_keys/version/${v}`, alice.accessToken);
      expect(r.status, v).toBe(404);
      expect(r.body.errcode, v).toBe("M_NOT_FOUND");
    }
    // Versions are per user.
    const bob = await registerUser();
    expect((await get("/room_keys/version", bob.accessToken)).status).toBe(404);
    expect((await get("/room_keys/version/1", bob.accessToken)).status).toBe(404);
    expect(await newVersion(bob)).toBe("1");
  });

  it("validates the version body loosely", async () => {
    const alice = await registerUser();
    for (const body of [{}, { algorithm: MEGOLM_BACKUP_V1 }, { algorithm: MEGOLM_BACKUP_V1, auth_data: "x" }, { algorithm: MEGOLM_BACKUP_V1, auth_data: {} }]) {
      expect((await post("/room_keys/version", alice.accessToken, body)).status, JSON.stringify(body)).toBe(400);
    }
    // Other algorithms are stored as they come.
    expect((await post("/room_keys/version", alice.accessToken, { algorithm: "org.example.backup", auth_data: { anything: 1 } })).status).toBe(200);
    expect((await callJson("/_matrix/client/v3/room_keys/version")).status).toBe(401);
  });

  it("updates auth_data only, with matching algorithm and version", async () => {
    const alice = await registerUser();
    const v = await newVersion(alice);
    const next = { public_key: "new-key", signatures: {} };
    expect((await put(`/room_keys/version/${v}`, alice.accessToken, { algorithm: MEGOLM_BACKUP_V1, auth_data: next, version: v })).status).toBe(200);
    expect((await get(`/room_keys/version/${v}`, alice.accessToken)).body.auth_data).toEqual(next);
    const wrongAlg = await put(`/room_keys/version/${v}`, alice.accessToken, { algorithm: "org.example.other", auth_data: next });
    expect([wrongAlg.status, wrongAlg.body.errcode]).toEqual([400, "M_INVALID_PARAM"]);
    const wrongVersion = await put(`/room_keys/version/${v}`, alice.accessToken, { algorithm: MEGOLM_BACKUP_V1, auth_data: next, version: "7" });
    expect([wrongVersion.status, wrongVersion.body.errcode]).toEqual([400, "M_INVALID_PARAM"]);
    const unknown = await put("/room_keys/version/9", alice.accessToken, { algorithm: MEGOLM_BACKUP_V1, auth_data: next });
    expect([unknown.status, unknown.body.errcode]).toEqual([404, "M_NOT_FOUND"]);
  });

  it("deletes a version with its keys; deleting again succeeds; numbers are not reused", async () => {
    const alice = await registerUser();
    const v1 = await newVersion(alice);
    const v2 = await newVersion(alice);
    expect((await put(`/room_keys/keys?version=${v2}`, alice.accessToken, { rooms: { [ROOM]: { sessions: { s1: session(true, 0, 0) } } } })).body.count).toBe(1);
    expect((await del(`/room_keys/version/${v2}`, alice.accessToken)).status).toBe(200);
    expect((await del(`/room_keys/version/${v2}`, alice.accessToken)).status).toBe(200);
    expect((await del("/room_keys/version/99", alice.accessToken)).status).toBe(404);
    expect((await get(`/room_keys/version/${v2}`, alice.accessToken)).status).toBe(404);
    expect((await get(`/room_keys/keys?version=${v2}`, alice.accessToken)).status).toBe(404);
    // The older version is current again (as in Synapse); a new one gets the next number.
    expect((await get("/room_keys/version", alice.accessToken)).body.version).toBe(v1);
    expect(await newVersion(alice)).toBe("3");
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM room_key_backup_keys WHERE version = ? AND user_id = ?").bind(2, alice.userId).first<{ n: number }>();
    expect(rows!.n).toBe(0);
  });
});

describe("backup keys", () => {
  it("stores, reads and deletes keys at all three levels with etag and count", async () => {
    const alice = await registerUser();
    const v = await newVersion(alice);
    const all = await put<{ etag: string; count: number }>(`/room_keys/keys?version=${v}`, alice.accessToken, {
      rooms: { [ROOM]: { sessions: { s1: session(false, 1, 0), s2: session(true, 0, 1) } }, "!other:localhost:8008": { sessions: { s3: session(false, 0, 0) } } },
    });
    expect(all.body).toEqual({ etag: "1", count: 3 });
    const room = await put(`/room_keys/keys/${enc(ROOM)}?version=${v}`, alice.accessToken, { sessions: { s4: session(false, 0, 0) } });
    expect(room.body).toEqual({ etag: "2", count: 4 });
    const one = await put(`/room_keys/keys/${enc(ROOM)}/s5?version=${v}`, alice.accessToken, session(false, 0, 0));
    expect(one.body).toEqual({ etag: "3", count: 5 });
    expect((await get(`/room_keys/version/${v}`, alice.accessToken)).body).toMatchObject({ count: 5, etag: "3" });

    const everything = await get<{ rooms: Record<string, { sessions: Record<string, object> }> }>(`/room_keys/keys?version=${v}`, alice.accessToken);
    expect(Object.keys(everything.body.rooms).sort()).toEqual(["!other:localhost:8008", ROOM]);
    expect(everything.body.rooms[ROOM]!.sessions.s2).toEqual(session(true, 0, 1));
    expect(Object.keys((await get<{ sessions: object }>(`/room_keys/keys/${enc(ROOM)}?version=${v}`, alice.accessToken)).body.sessions).sort()).toEqual([
      "s1",
      "s2",
      "s4",
      "s5",
    ]);
    expect((await get(`/room_keys/keys/${enc(ROOM)}/s1?version=${v}`, alice.accessToken)).body).toEqual(session(false, 1, 0));
    expect((await get(`/room_keys/keys/${enc("!empty:localhost:8008")}?version=${v}`, alice.accessToken)).body).toEqual({ sessions: {} });
    const missing = await get(`/room_keys/keys/${enc(ROOM)}/nope?version=${v}`, alice.accessToken);
    expect([missing.status, missing.body.errcode]).toEqual([404, "M_NOT_FOUND"]);

    expect((await del(`/room_keys/keys/${enc(ROOM)}/s1?version=${v}`, alice.accessToken)).body).toEqual({ etag: "4", count: 4 });
    expect((await del(`/room_keys/keys/${enc(ROOM)}?version=${v}`, alice.accessToken)).body).toEqual({ etag: "5", count: 1 });
    expect((await del(`/room_keys/keys?version=${v}`, alice.accessToken)).body).toEqual({ etag: "6", count: 0 });
    expect((await get(`/room_keys/keys?version=${v}`, alice.accessToken)).body).toEqual({ rooms: {} });
  });

  it("keeps the better key for a session: verified, then lower first_message_index, then lower forwarded_count", async () => {
    const alice = await registerUser();
    const v = await newVersion(alice);
    const path = `/room_keys/keys/${enc(ROOM)}/sess?version=${v}`;
    const current = async () => (await get(path, alice.accessToken)).body;
    await put(path, alice.accessToken, session(false, 5, 5, "a"));
    const steps: [ReturnType<typeof session>, string][] = [
      [session(false, 6, 0, "b"), "a"], // higher index: kept a
      [session(false, 5, 6, "c"), "a"], // same index, more forwards: kept a
      [session(false, 5, 4, "d"), "d"], // fewer forwards: replaced
      [session(false, 2, 9, "e"), "e"], // lower index: replaced
      [session(true, 9, 9, "f"), "f"], // verified beats everything
      [session(false, 0, 0, "g"), "f"], // unverified never replaces verified
      [session(true, 9, 9, "h"), "f"], // equal: kept
      [session(true, 8, 9, "i"), "i"],
    ];
    for (const [candidate, expected] of steps) {
      const r = await put<{ etag: string; count: number }>(path, alice.accessToken, candidate);
      expect(r.status).toBe(200);
      expect(r.body.count).toBe(1);
      expect(((await current()).session_data as { ciphertext: string }).ciphertext, JSON.stringify(candidate)).toBe(expected);
    }
  });

  it("refuses writes to an old version (403 with current_version), unknown versions (404) and bad bodies (400)", async () => {
    const alice = await registerUser();
    const none = await put(`/room_keys/keys/${enc(ROOM)}/s?version=1`, alice.accessToken, session(false, 0, 0));
    expect([none.status, none.body.errcode]).toEqual([404, "M_NOT_FOUND"]);
    const v1 = await newVersion(alice);
    const v2 = await newVersion(alice);
    const old = await put(`/room_keys/keys?version=${v1}`, alice.accessToken, { rooms: {} });
    expect(old.status).toBe(403);
    expect(old.body).toMatchObject({ errcode: "M_WRONG_ROOM_KEYS_VERSION", current_version: v2 });
    const unknown = await put(`/room_keys/keys/${enc(ROOM)}?version=42`, alice.accessToken, { sessions: {} });
    expect([unknown.status, unknown.body.errcode]).toEqual([404, "M_NOT_FOUND"]);
    const noVersion = await put(`/room_keys/keys`, alice.accessToken, { rooms: {} });
    expect([noVersion.status, noVersion.body.errcode]).toEqual([400, "M_MISSING_PARAM"]);
    for (const body of [{}, { rooms: [] }, { rooms: { [ROOM]: { sessions: { s: { ...session(false, 0, 0), is_verified: "no" } } } } }]) {
      expect((await put(`/room_keys/keys?version=${v2}`, alice.accessToken, body)).status, JSON.stringify(body)).toBe(400);
    }
    expect((await put(`/room_keys/keys/${enc(ROOM)}/s?version=${v2}`, alice.accessToken, { first_message_index: 0 })).status).toBe(400);
    expect((await get(`/room_keys/keys?version=${v1}`, alice.accessToken)).status).toBe(200);
    expect((await get(`/room_keys/keys?version=9`, alice.accessToken)).status).toBe(404);
    expect((await del(`/room_keys/keys?version=9`, alice.accessToken)).status).toBe(404);
  });

  it("the SQL guard applies the same rule as shouldReplaceRoomKey", async () => {
    const grid: BackupKeyMeta[] = [];
    for (const v of [false, true]) for (const i of [0, 1]) for (const f of [0, 1]) grid.push({ is_verified: v, first_message_index: i, forwarded_count: f });
    const pairs = grid.flatMap((a, ai) => grid.map((b, bi) => ({ a, b, session: `p${ai}_${bi}` })));
    const row = (m: BackupKeyMeta, session: string, data: string) => [ROOM, session, m.first_message_index, m.forwarded_count, m.is_verified ? 1 : 0, data];
    const upsert = (rows: unknown[]) =>
      env.DB.prepare(
        "INSERT INTO room_key_backup_keys (user_id, version, room_id, session_id, first_message_index, forwarded_count, is_verified, session_data) " +
          "SELECT '@sqlcheck:localhost:8008', 1, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), " +
          "json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]') FROM json_each(?) WHERE true " +
          "ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET first_message_index = excluded.first_message_index, " +
          "forwarded_count = excluded.forwarded_count, is_verified = excluded.is_verified, session_data = excluded.session_data " +
          `WHERE ${SHOULD_REPLACE_SQL}`,
      )
        .bind(JSON.stringify(rows))
        .run();
    await upsert(pairs.map((p) => row(p.a, p.session, "a")));
    await upsert(pairs.map((p) => row(p.b, p.session, "b")));
    const { results } = await env.DB.prepare("SELECT session_id, session_data FROM room_key_backup_keys WHERE user_id = '@sqlcheck:localhost:8008'").all<{
      session_id: string;
      session_data: string;
    }>();
    const got = new Map(results.map((r) => [r.session_id, r.session_data]));
    for (const p of pairs) expect(got.get(p.session), JSON.stringify(p)).toBe(shouldReplaceRoomKey(p.a, p.b) ? "b" : "a");
  });
});
