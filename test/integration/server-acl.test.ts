/**
 * Server ACLs read from the D1 read model (services/d1/server-acl.ts) and the
 * federation-side check (workers/middleware/server-acl.ts), with ACLs set through
 * the client API. No federation room endpoint exists yet, so the middleware runs on
 * a probe route behind the real X-Matrix authentication.
 */
import { env as workerEnv } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { decodeBase64 } from "../../src/base64.js";
import { MatrixError } from "../../src/errors.js";
import { serverAllowed } from "../../src/server-acl.js";
import { signRequest } from "../../src/x-matrix.js";
import { roomServerAcl, roomServerAcls } from "../../services/d1/server-acl.js";
import type { Env } from "../../services/env.js";
import type { AppEnv } from "../../workers/app-env.js";
import { onError } from "../../workers/middleware/errors.js";
import { requireServerAuth } from "../../workers/middleware/federation-auth.js";
import { assertServerAllowedInRoom, requireServerAllowedInRoom } from "../../workers/middleware/server-acl.js";
import { call, registerUser } from "./helpers.js";
import { createRoom, enc, redact, setState } from "./room-reads-helpers.js";

const env = workerEnv as unknown as Env;
const SERVER = "localhost:8008";

/** The verdicts of the room's current ACL, through the helper the federation routes use. */
async function verdicts(roomId: string, names: string[]): Promise<Record<string, "allowed" | string>> {
  const out: Record<string, string> = {};
  for (const name of names) {
    try {
      await assertServerAllowedInRoom(env.DB, roomId, name);
      out[name] = "allowed";
    } catch (e) {
      if (!(e instanceof MatrixError)) throw e;
      out[name] = `${e.status} ${e.errcode} ${e.message}`;
    }
  }
  return out;
}

const DENIED = "403 M_FORBIDDEN Server is banned from this room";

describe("server ACLs from D1", () => {
  it("no ACL: none is read and every server is allowed", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    expect(await roomServerAcl(env.DB, roomId)).toBeNull();
    expect(await roomServerAcl(env.DB, "!unknown:localhost:8008")).toBeNull();
    expect(await verdicts(roomId, ["evil.example", "1.2.3.4:8448", SERVER])).toEqual({
      "evil.example": "allowed",
      "1.2.3.4:8448": "allowed",
      [SERVER]: "allowed",
    });
  });

  it("an ACL set with PUT /state is the room's ACL; verdicts for allowed and denied names", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await setState(alice, roomId, "m.room.server_acl", "", { allow: ["*"], deny: ["evil.example", "*.evil.example"], allow_ip_literals: false });
    expect(await roomServerAcl(env.DB, roomId)).toEqual({ allowIpLiterals: false, allow: ["*"], deny: ["evil.example", "*.evil.example"] });
    expect(
      await verdicts(roomId, ["good.example", "good.example:8448", SERVER, "evil.example", "EVIL.example:8448", "sub.evil.example", "notevil.example", "1.2.3.4:8448", "[::1]:8448"]),
    ).toEqual({
      "good.example": "allowed",
      "good.example:8448": "allowed",
      [SERVER]: "allowed",
      "evil.example": DENIED,
      "EVIL.example:8448": DENIED,
      "sub.evil.example": DENIED,
      "notevil.example": "allowed",
      "1.2.3.4:8448": DENIED,
      "[::1]:8448": DENIED,
    });
  });

  it("a later ACL replaces the earlier; malformed parts are ignored; a redacted ACL lets nobody in", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await setState(alice, roomId, "m.room.server_acl", "", { allow: ["*"], deny: ["evil.example"] });
    const second = await setState(alice, roomId, "m.room.server_acl", "", { allow: ["localhost", "*.good.example", 7], deny: "everyone", allow_ip_literals: "no" });
    expect(await roomServerAcl(env.DB, roomId)).toEqual({ allowIpLiterals: true, allow: ["localhost", "*.good.example"], deny: [] });
    expect(await verdicts(roomId, [SERVER, "a.good.example", "good.example", "evil.example"])).toEqual({
      [SERVER]: "allowed",
      "a.good.example": "allowed",
      "good.example": DENIED,
      "evil.example": DENIED,
    });
    // An ACL under another state key is not the room's ACL.
    await setState(alice, roomId, "m.room.server_acl", "other", { allow: [] });
    expect((await roomServerAcl(env.DB, roomId))?.allow).toEqual(["localhost", "*.good.example"]);

    await redact(alice, roomId, second);
    expect(await roomServerAcl(env.DB, roomId)).toEqual({ allowIpLiterals: true, allow: [], deny: [] });
    expect(await verdicts(roomId, [SERVER, "a.good.example"])).toEqual({ [SERVER]: DENIED, "a.good.example": DENIED });
  });

  it("several rooms' ACLs in one statement", async () => {
    const alice = await registerUser();
    const withAcl = await createRoom(alice, { preset: "public_chat" });
    const without = await createRoom(alice, { preset: "public_chat" });
    const other = await createRoom(alice, { preset: "public_chat" });
    await setState(alice, withAcl, "m.room.server_acl", "", { allow: ["*"], deny: ["evil.example"] });
    await setState(alice, other, "m.room.server_acl", "", { allow: ["only.example"] });
    const acls = await roomServerAcls(env.DB, [withAcl, without, withAcl, other, "!unknown:localhost:8008"]);
    expect([...acls.keys()].sort()).toEqual([withAcl, other].sort());
    expect(serverAllowed(acls.get(withAcl), "evil.example")).toBe(false);
    expect(serverAllowed(acls.get(without), "evil.example")).toBe(true);
    expect(serverAllowed(acls.get(other), "only.example:8448")).toBe(true);
    expect(serverAllowed(acls.get(other), "evil.example")).toBe(false);
    expect((await roomServerAcls(env.DB, [])).size).toBe(0);
  });

  it("the middleware after X-Matrix authentication: 403 M_FORBIDDEN for a denied origin, its port ignored", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await call("/_matrix/key/v2/server");
    const key = await env.DB.prepare("SELECT key_id, seed FROM server_signing_keys WHERE expired_ts IS NULL").first<{ key_id: string; seed: string }>();

    const app = new Hono<AppEnv>();
    app.get("/_matrix/federation/v1/probe/:roomId", requireServerAuth(), requireServerAllowedInRoom(), (c) => c.json({ origin: c.get("origin") }));
    app.onError(onError);
    const path = `/_matrix/federation/v1/probe/${enc(roomId)}`;
    const probe = () =>
      app.request(
        path,
        { headers: { Authorization: signRequest({ method: "GET", uri: path, origin: SERVER, destination: SERVER }, key!.key_id, decodeBase64(key!.seed)) } },
        env,
      );

    let res = await probe();
    expect([res.status, await res.json()]).toEqual([200, { origin: SERVER }]);
    // Our own name is localhost:8008; the rule names the host only.
    await setState(alice, roomId, "m.room.server_acl", "", { allow: ["*"], deny: ["LOCALHOST"] });
    res = await probe();
    expect([res.status, await res.json()]).toEqual([403, { errcode: "M_FORBIDDEN", error: "Server is banned from this room" }]);
    await setState(alice, roomId, "m.room.server_acl", "", { allow: ["local*"] });
    expect((await probe()).status).toBe(200);
  });
});
