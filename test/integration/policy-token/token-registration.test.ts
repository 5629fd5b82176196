import { describe, expect, it } from "vitest";
import { sharedSecretRegister } from "../admin-helpers.js";
import { callJson } from "../helpers.js";

const REG = "/_matrix/client/v3/register";

async function adminToken(): Promise<string> {
  const r = await sharedSecretRegister(`admin${Math.random().toString(36).slice(2, 8)}`, "admin-password", true);
  return r.body.access_token;
}

describe("token-gated registration with terms", () => {
  it("requires a valid token and terms acceptance, counts uses, and honours uses_allowed", async () => {
    const admin = await adminToken();
    const created = await callJson<{ token: string; uses_allowed: number }>("/_synapse/admin/v1/registration_tokens/new", {
      method: "POST",
      token: admin,
      json: { uses_allowed: 1 },
    });
    expect(created.status).toBe(200);
    const token = created.body.token;
    expect((await callJson(`/_matrix/client/v1/register/m.login.registration_token/validity?token=${token}`)).body).toEqual({ valid: true });
    expect((await callJson("/_matrix/client/v1/register/m.login.registration_token/validity?token=nope")).body).toEqual({ valid: false });

    const first = await callJson<{ flows: { stages: string[] }[]; params: Record<string, unknown>; session: string }>(REG, {
      method: "POST",
      json: { username: "tina", password: "long-enough-pw" },
    });
    expect(first.status).toBe(401);
    expect(first.body.flows).toEqual([{ stages: ["m.login.registration_token", "m.login.terms"] }]);
    expect(first.body.params["m.login.terms"]).toMatchObject({ policies: { privacy_policy: { version: "1.0" } } });
    const session = first.body.session;

    const badToken = await callJson(REG, { method: "POST", json: { username: "tina", password: "long-enough-pw", auth: { type: "m.login.registration_token", token: "wrong", session } } });
    expect(badToken.status).toBe(401);
    expect(badToken.body.errcode).toBe("M_UNAUTHORIZED");

    const step1 = await callJson<{ completed: string[] }>(REG, { method: "POST", json: { username: "tina", password: "long-enough-pw", auth: { type: "m.login.registration_token", token, session } } });
    expect(step1.status).toBe(401);
    expect(step1.body.completed).toEqual(["m.login.registration_token"]);
    const step2 = await callJson(REG, { method: "POST", json: { username: "tina", password: "long-enough-pw", auth: { type: "m.login.terms", session } } });
    expect(step2.status).toBe(200);
    expect(step2.body.user_id).toBe("@tina:localhost:8008");

    const after = await callJson<{ completed: number }>(`/_synapse/admin/v1/registration_tokens/${token}`, { token: admin });
    expect(after.body.completed).toBe(1);
    expect((await callJson(`/_matrix/client/v1/register/m.login.registration_token/validity?token=${token}`)).body).toEqual({ valid: false });

    // Used up: the next registration cannot pass the token stage.
    const s2 = await callJson<{ session: string }>(REG, { method: "POST", json: { username: "uma", password: "long-enough-pw" } });
    const used = await callJson(REG, { method: "POST", json: { username: "uma", password: "long-enough-pw", auth: { type: "m.login.registration_token", token, session: s2.body.session } } });
    expect(used.status).toBe(401);
  });

  it("refuses guests, weak passwords and exclusive namespaces", async () => {
    const guest = await callJson(`${REG}?kind=guest`, { method: "POST", json: {} });
    expect(guest.status).toBe(403);
    expect(guest.body.errcode).toBe("M_GUEST_ACCESS_FORBIDDEN");
    const excl = await callJson(REG, { method: "POST", json: { username: "irc_bob", password: "long-enough-pw" } });
    expect(excl.status).toBe(400);
    expect(excl.body.errcode).toBe("M_EXCLUSIVE");

    const admin = await adminToken();
    const { body } = await callJson<{ token: string }>("/_synapse/admin/v1/registration_tokens/new", { method: "POST", token: admin, json: {} });
    const s = await callJson<{ session: string }>(REG, { method: "POST", json: { username: "walt", password: "short" } });
    await callJson(REG, { method: "POST", json: { username: "walt", password: "short", auth: { type: "m.login.registration_token", token: body.token, session: s.body.session } } });
    const weak = await callJson(REG, { method: "POST", json: { username: "walt", password: "short", auth: { type: "m.login.terms", session: s.body.session } } });
    expect(weak.status).toBe(400);
    expect(weak.body.errcode).toBe("M_WEAK_PASSWORD");
  });

  it("admin API manages tokens", async () => {
    const admin = await adminToken();
    const made = await callJson("/_synapse/admin/v1/registration_tokens/new", { method: "POST", token: admin, json: { token: "abc-123", expiry_time: Date.now() + 60_000 } });
    expect(made.body).toMatchObject({ token: "abc-123", uses_allowed: null, pending: 0, completed: 0 });
    expect((await callJson("/_synapse/admin/v1/registration_tokens/new", { method: "POST", token: admin, json: { token: "abc-123" } })).status).toBe(400);
    expect((await callJson("/_synapse/admin/v1/registration_tokens/abc-123", { method: "PUT", token: admin, json: { uses_allowed: 5 } })).body.uses_allowed).toBe(5);
    const list = await callJson<{ registration_tokens: { token: string }[] }>("/_synapse/admin/v1/registration_tokens?valid=true", { token: admin });
    expect(list.body.registration_tokens.map((t) => t.token)).toContain("abc-123");
    expect((await callJson("/_synapse/admin/v1/registration_tokens/abc-123", { method: "DELETE", token: admin })).status).toBe(200);
    expect((await callJson("/_synapse/admin/v1/registration_tokens/abc-123", { token: admin })).status).toBe(404);
  });
});
