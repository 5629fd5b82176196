import { describe, expect, it } from "vitest";
import { sharedSecretRegister } from "./admin-helpers.js";
import { callJson } from "./helpers.js";

describe("Synapse-compatible shared-secret registration", () => {
  it("creates an admin with a valid HMAC and refuses reused nonces and bad MACs", async () => {
    const ok = await sharedSecretRegister("root", "root-pw", true);
    expect(ok.status).toBe(200);
    expect(ok.body.user_id).toBe("@root:localhost:8008");
    const who = await callJson("/_matrix/client/v3/account/whoami", { token: ok.body.access_token });
    expect(who.body.user_id).toBe("@root:localhost:8008");
    // The admin can use the admin API.
    expect((await callJson("/_synapse/admin/v1/registration_tokens", { token: ok.body.access_token })).status).toBe(200);

    const bad = await sharedSecretRegister("eve", "pw", true, "wrong-secret");
    expect(bad.status).toBe(403);
    expect(bad.body.errcode).toBe("M_FORBIDDEN");

    const { body } = await callJson<{ nonce: string }>("/_synapse/admin/v1/register");
    const replay1 = await callJson("/_synapse/admin/v1/register", { method: "POST", json: { nonce: body.nonce, username: "x", password: "y", admin: false, mac: "00" } });
    expect(replay1.status).toBe(403);
    const replay2 = await callJson("/_synapse/admin/v1/register", { method: "POST", json: { nonce: body.nonce, username: "x", password: "y", admin: false, mac: "00" } });
    expect(replay2.status).toBe(400);
    expect((await callJson("/_synapse/admin/v1/register", { method: "POST", json: { nonce: 1 } })).body.errcode).toBe("M_BAD_JSON");

    const dup = await sharedSecretRegister("root", "other", false);
    expect(dup.body.errcode).toBe("M_USER_IN_USE");
  });

  it("non-admins cannot use the admin API", async () => {
    const user = await sharedSecretRegister("plain", "pw", false);
    const r = await callJson("/_synapse/admin/v1/registration_tokens", { token: user.body.access_token });
    expect(r.status).toBe(403);
    expect(r.body.errcode).toBe("M_FORBIDDEN");
    expect((await callJson("/_synapse/admin/v1/registration_tokens")).status).toBe(401);
  });
});
