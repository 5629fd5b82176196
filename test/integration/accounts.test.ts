import { describe, expect, it } from "vitest";
import { call, callJson, login, registerUser } from "./helpers.js";

const REG = "/_matrix/client/v3/register";

describe("registration (open policy)", () => {
  it("starts UIA with a dummy flow, then registers and logs in", async () => {
    const first = await callJson<{ flows: { stages: string[] }[]; session: string; params: object }>(REG, {
      method: "POST",
      json: { username: "alice", password: "pw-alice-123" },
    });
    expect(first.status).toBe(401);
    expect(first.body.flows).toEqual([{ stages: ["m.login.dummy"] }]);
    expect(first.body.session).toMatch(/\S+/);
    expect(first.body).not.toHaveProperty("errcode");
    const done = await callJson<{ user_id: string; access_token: string; device_id: string }>(REG, {
      method: "POST",
      json: { username: "alice", password: "pw-alice-123", initial_device_display_name: "Phone", auth: { type: "m.login.dummy", session: first.body.session } },
    });
    expect(done.status).toBe(200);
    expect(done.body.user_id).toBe("@alice:localhost:8008");
    expect(done.body.access_token).toMatch(/^mat_/);
    const who = await callJson("/_matrix/client/v3/account/whoami", { token: done.body.access_token });
    expect(who.body).toEqual({ user_id: "@alice:localhost:8008", device_id: done.body.device_id, is_guest: false });
    // The session is spent: it cannot register a second account.
    const again = await callJson(REG, { method: "POST", json: { username: "alice2", password: "x", auth: { type: "m.login.dummy", session: first.body.session } } });
    expect(again.status).toBe(400);
  });

  it("rejects taken, invalid and reserved names", async () => {
    await registerUser("bob");
    const taken = await callJson(REG, { method: "POST", json: { username: "bob", password: "x" } });
    expect(taken.status).toBe(400);
    expect(taken.body.errcode).toBe("M_USER_IN_USE");
    for (const username of ["Bob", "b b", "_bridge", "12345", "a".repeat(260), "é"]) {
      const bad = await callJson(REG, { method: "POST", json: { username, password: "x" } });
      expect(bad.status, username).toBe(400);
      expect(bad.body.errcode, username).toBe("M_INVALID_USERNAME");
    }
  });

  it("/register/available answers true, M_USER_IN_USE or M_INVALID_USERNAME", async () => {
    await registerUser("carol");
    expect((await callJson("/_matrix/client/v3/register/available?username=dave")).body).toEqual({ available: true });
    const inUse = await callJson("/_matrix/client/v3/register/available?username=carol");
    expect(inUse.status).toBe(400);
    expect(inUse.body.errcode).toBe("M_USER_IN_USE");
    expect((await callJson("/_matrix/client/v3/register/available?username=Nope!")).body.errcode).toBe("M_INVALID_USERNAME");
    expect((await callJson("/_matrix/client/v3/register/available")).body.errcode).toBe("M_MISSING_PARAM");
  });

  it("two racing registrations of one name: exactly one wins", async () => {
    const sessions = await Promise.all(
      [0, 1, 2, 3].map(async () => (await callJson<{ session: string }>(REG, { method: "POST", json: { username: "racer", password: "x" } })).body.session),
    );
    const results = await Promise.all(
      sessions.map((session) => callJson(REG, { method: "POST", json: { username: "racer", password: "x", auth: { type: "m.login.dummy", session } } })),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of results.filter((r) => r.status !== 200)) expect(r.body.errcode).toBe("M_USER_IN_USE");
  });

  it("inhibit_login returns only the user id", async () => {
    const first = await callJson<{ session: string }>(REG, { method: "POST", json: { username: "quiet", password: "x", inhibit_login: true } });
    const done = await callJson(REG, { method: "POST", json: { username: "quiet", password: "x", inhibit_login: true, auth: { type: "m.login.dummy", session: first.body.session } } });
    expect(done.status).toBe(200);
    expect(done.body.user_id).toBe("@quiet:localhost:8008");
    expect(done.body).not.toHaveProperty("access_token");
    expect(done.body).not.toHaveProperty("device_id");
  });

  it("guests register without UIA and are kept out of non-guest endpoints", async () => {
    const guest = await callJson<{ user_id: string; access_token: string }>(`${REG}?kind=guest`, { method: "POST", json: {} });
    expect(guest.status).toBe(200);
    expect(guest.body.user_id).toMatch(/^@\d+:localhost:8008$/);
    const who = await callJson("/_matrix/client/v3/account/whoami", { token: guest.body.access_token });
    expect(who.body.is_guest).toBe(true);
    const denied = await callJson("/_matrix/client/v3/account/3pid", { token: guest.body.access_token });
    expect(denied.status).toBe(403);
    expect(denied.body.errcode).toBe("M_GUEST_ACCESS_FORBIDDEN");
    expect((await callJson(`${REG}?kind=robot`, { method: "POST", json: {} })).body.errcode).toBe("M_INVALID_PARAM");
  });

  it("UIA: unknown stage types and sessions are refused", async () => {
    const first = await callJson<{ session: string }>(REG, { method: "POST", json: { username: "erin", password: "x" } });
    const wrongStage = await callJson<{ errcode: string; flows: unknown[]; session: string }>(REG, {
      method: "POST",
      json: { username: "erin", password: "x", auth: { type: "m.login.recaptcha", session: first.body.session } },
    });
    expect(wrongStage.status).toBe(401);
    expect(wrongStage.body.errcode).toBe("M_UNRECOGNIZED");
    expect(wrongStage.body.flows).toBeDefined();
    const badSession = await callJson(REG, { method: "POST", json: { username: "erin", password: "x", auth: { type: "m.login.dummy", session: "nope" } } });
    expect(badSession.status).toBe(400);
    const badAuth = await callJson(REG, { method: "POST", json: { username: "erin", password: "x", auth: "dummy" } });
    expect(badAuth.status).toBe(400);
    expect(badAuth.body.errcode).toBe("M_BAD_JSON");
  });

  it("malformed bodies get M_NOT_JSON / M_BAD_JSON, never 5xx", async () => {
    for (const body of ["{", "[]", '"x"', '{"username": 5}', '{"password": ["x"]}', '{"inhibit_login": "yes"}', '{"auth": {"type": 1}}']) {
      const r = await callJson(REG, { method: "POST", body });
      expect(r.status, body).toBeGreaterThanOrEqual(400);
      expect(r.status, body).toBeLessThan(500);
      expect(["M_NOT_JSON", "M_BAD_JSON"]).toContain(r.body.errcode);
    }
  });
});

describe("login", () => {
  it("GET /login lists password and token logins", async () => {
    const r = await callJson("/_matrix/client/v3/login");
    expect(r.body).toEqual({ flows: [{ type: "m.login.password" }, { type: "m.login.token", get_login_token: true }] });
  });

  it("accepts every identifier form for users and refuses wrong passwords", async () => {
    const u = await registerUser("frank", { password: "frank-pw" });
    for (const body of [
      { identifier: { type: "m.id.user", user: "frank" } },
      { identifier: { type: "m.id.user", user: "@frank:localhost:8008" } },
      { identifier: { type: "m.id.user", user: "FRANK" } },
      { user: "frank" },
      { user: "@frank:localhost:8008" },
    ]) {
      const r = await callJson("/_matrix/client/v3/login", { method: "POST", json: { type: "m.login.password", password: "frank-pw", ...body } });
      expect(r.status, JSON.stringify(body)).toBe(200);
      expect(r.body.user_id).toBe(u.userId);
    }
    const wrong = await login("frank", "nope");
    expect(wrong.status).toBe(403);
    expect(wrong.body).toMatchObject({ errcode: "M_FORBIDDEN" });
    const nobody = await login("nobody", "x");
    expect(nobody.status).toBe(403);
    const threepid = await callJson("/_matrix/client/v3/login", {
      method: "POST",
      json: { type: "m.login.password", identifier: { type: "m.id.thirdparty", medium: "email", address: "a@b.c" }, password: "x" },
    });
    expect(threepid.status).toBe(403);
    const unknownType = await callJson("/_matrix/client/v3/login", { method: "POST", json: { type: "m.login.bogus" } });
    expect(unknownType.status).toBe(400);
    expect(unknownType.body.errcode).toBe("M_UNKNOWN");
  });

  it("reuses a given device_id", async () => {
    await registerUser("grace", { password: "pw" });
    const a = await login("grace", "pw", { device_id: "MYDEVICE" });
    const b = await login("grace", "pw", { device_id: "MYDEVICE" });
    expect(a.body.device_id).toBe("MYDEVICE");
    expect(b.body.device_id).toBe("MYDEVICE");
    const devices = await callJson<{ devices: { device_id: string }[] }>("/_matrix/client/v3/devices", { token: b.body.access_token });
    expect(devices.body.devices.filter((d) => d.device_id === "MYDEVICE")).toHaveLength(1);
  });

  it("token errors: M_MISSING_TOKEN, M_UNKNOWN_TOKEN, header or query form", async () => {
    const u = await registerUser("heidi");
    const missing = await callJson("/_matrix/client/v3/account/whoami");
    expect(missing.status).toBe(401);
    expect(missing.body.errcode).toBe("M_MISSING_TOKEN");
    const unknown = await callJson("/_matrix/client/v3/account/whoami", { token: "mat_nope" });
    expect(unknown.status).toBe(401);
    expect(unknown.body).toMatchObject({ errcode: "M_UNKNOWN_TOKEN", soft_logout: false });
    const query = await callJson(`/_matrix/client/v3/account/whoami?access_token=${u.accessToken}`);
    expect(query.body.user_id).toBe(u.userId);
    const malformed = await callJson("/_matrix/client/v3/account/whoami", { headers: { Authorization: "Basic abc" } });
    expect(malformed.body.errcode).toBe("M_MISSING_TOKEN");
    // r0 paths are served too.
    expect((await callJson("/_matrix/client/r0/account/whoami", { token: u.accessToken })).body.user_id).toBe(u.userId);
  });

  it("logout revokes on the very next request; logout/all revokes every device", async () => {
    await registerUser("ivan", { password: "pw" });
    const a = await login("ivan", "pw");
    const b = await login("ivan", "pw");
    expect((await callJson("/_matrix/client/v3/logout", { method: "POST", token: a.body.access_token })).status).toBe(200);
    expect((await callJson("/_matrix/client/v3/account/whoami", { token: a.body.access_token })).body.errcode).toBe("M_UNKNOWN_TOKEN");
    expect((await callJson("/_matrix/client/v3/account/whoami", { token: b.body.access_token })).status).toBe(200);
    const c = await login("ivan", "pw");
    expect((await callJson("/_matrix/client/v3/logout/all", { method: "POST", token: c.body.access_token })).status).toBe(200);
    for (const t of [b.body.access_token, c.body.access_token]) {
      expect((await callJson("/_matrix/client/v3/account/whoami", { token: t })).status).toBe(401);
    }
  });
});

describe("refresh tokens", () => {
  it("issues expiring tokens, rotates them, and refuses replays", async () => {
    await registerUser("judy", { password: "pw" });
    const l = await login("judy", "pw", { refresh_token: true });
    expect(l.body.refresh_token).toMatch(/^mar_/);
    expect(l.body.expires_in_ms).toBeGreaterThan(0);
    const r1 = await callJson<{ access_token: string; refresh_token: string; expires_in_ms: number }>("/_matrix/client/v3/refresh", {
      method: "POST",
      json: { refresh_token: l.body.refresh_token },
    });
    expect(r1.status).toBe(200);
    expect(r1.body.refresh_token).not.toBe(l.body.refresh_token);
    expect(r1.body.expires_in_ms).toBeGreaterThan(0);
    // The old access token works until the new one is used.
    expect((await callJson("/_matrix/client/v3/account/whoami", { token: l.body.access_token })).status).toBe(200);
    expect((await callJson("/_matrix/client/v3/account/whoami", { token: r1.body.access_token })).status).toBe(200);
    // Retiring the old one happens after the response; poll briefly.
    let oldStatus = 200;
    for (let i = 0; i < 50 && oldStatus === 200; i++) {
      oldStatus = (await call("/_matrix/client/v3/account/whoami", { token: l.body.access_token })).status;
    }
    expect(oldStatus).toBe(401);
    const replay = await callJson("/_matrix/client/v3/refresh", { method: "POST", json: { refresh_token: l.body.refresh_token } });
    expect(replay.status).toBe(401);
    expect(replay.body.errcode).toBe("M_UNKNOWN_TOKEN");
    // Two racing refreshes of one token: one wins.
    const race = await Promise.all([0, 1, 2].map(() => callJson("/_matrix/client/v3/refresh", { method: "POST", json: { refresh_token: r1.body.refresh_token } })));
    expect(race.filter((r) => r.status === 200)).toHaveLength(1);
    // refresh_token is required (spec "Refresh access tokens"): absent is M_MISSING_PARAM, the wrong type M_BAD_JSON.
    expect((await callJson("/_matrix/client/v3/refresh", { method: "POST", json: {} })).body.errcode).toBe("M_MISSING_PARAM");
    expect((await callJson("/_matrix/client/v3/refresh", { method: "POST", json: { refresh_token: 1 } })).body.errcode).toBe("M_BAD_JSON");
  });

  it("registration can ask for a refresh token too", async () => {
    const first = await callJson<{ session: string }>(REG, { method: "POST", json: { username: "kim", password: "x", refresh_token: true } });
    const done = await callJson(REG, { method: "POST", json: { username: "kim", password: "x", refresh_token: true, auth: { type: "m.login.dummy", session: first.body.session } } });
    expect(done.body.refresh_token).toMatch(/^mar_/);
    expect(done.body.expires_in_ms).toBeGreaterThan(0);
  });
});

describe("login tokens (m.login.token via /login/get_token)", () => {
  it("needs UIA, then logs in once", async () => {
    const u = await registerUser("leo", { password: "pw" });
    const start = await callJson<{ session: string; flows: unknown }>("/_matrix/client/v1/login/get_token", { method: "POST", token: u.accessToken, json: {} });
    expect(start.status).toBe(401);
    expect(start.body.flows).toEqual([{ stages: ["m.login.password"] }]);
    const wrongPw = await callJson("/_matrix/client/v1/login/get_token", {
      method: "POST",
      token: u.accessToken,
      json: { auth: { type: "m.login.password", identifier: { type: "m.id.user", user: "leo" }, password: "bad", session: start.body.session } },
    });
    expect(wrongPw.status).toBe(401);
    expect(wrongPw.body.errcode).toBe("M_FORBIDDEN");
    const got = await callJson<{ login_token: string; expires_in_ms: number }>("/_matrix/client/v1/login/get_token", {
      method: "POST",
      token: u.accessToken,
      json: { auth: { type: "m.login.password", identifier: { type: "m.id.user", user: "leo" }, password: "pw", session: start.body.session } },
    });
    expect(got.status).toBe(200);
    expect(got.body.expires_in_ms).toBeGreaterThan(0);
    const viaToken = await callJson("/_matrix/client/v3/login", { method: "POST", json: { type: "m.login.token", token: got.body.login_token } });
    expect(viaToken.status).toBe(200);
    expect(viaToken.body.user_id).toBe(u.userId);
    const again = await callJson("/_matrix/client/v3/login", { method: "POST", json: { type: "m.login.token", token: got.body.login_token } });
    expect(again.status).toBe(403);
  });

  it("UIA for another user's password is refused", async () => {
    const u = await registerUser("mallory", { password: "pw" });
    await registerUser("victim", { password: "pw2" });
    const start = await callJson<{ session: string }>("/_matrix/client/v1/login/get_token", { method: "POST", token: u.accessToken, json: {} });
    const r = await callJson("/_matrix/client/v1/login/get_token", {
      method: "POST",
      token: u.accessToken,
      json: { auth: { type: "m.login.password", identifier: { type: "m.id.user", user: "victim" }, password: "pw2", session: start.body.session } },
    });
    expect(r.status).toBe(401);
    expect(r.body.errcode).toBe("M_FORBIDDEN");
  });
});

describe("devices", () => {
  it("lists, gets, renames and deletes with UIA; deletion revokes the device's tokens", async () => {
    const u = await registerUser("nina", { password: "pw" });
    const other = await login("nina", "pw", { initial_device_display_name: "Laptop" });
    const list = await callJson<{ devices: { device_id: string; display_name?: string; last_seen_ts?: number }[] }>("/_matrix/client/v3/devices", { token: u.accessToken });
    expect(list.body.devices.map((d) => d.device_id).sort()).toEqual([u.deviceId, other.body.device_id].sort());
    const one = await callJson(`/_matrix/client/v3/devices/${other.body.device_id}`, { token: u.accessToken });
    expect(one.body).toMatchObject({ device_id: other.body.device_id, display_name: "Laptop" });
    expect((await callJson("/_matrix/client/v3/devices/NOPE", { token: u.accessToken })).status).toBe(404);
    expect((await callJson(`/_matrix/client/v3/devices/${other.body.device_id}`, { method: "PUT", token: u.accessToken, json: { display_name: "Work" } })).status).toBe(200);
    expect((await callJson(`/_matrix/client/v3/devices/${other.body.device_id}`, { token: u.accessToken })).body.display_name).toBe("Work");
    expect((await callJson("/_matrix/client/v3/devices/NOPE", { method: "PUT", token: u.accessToken, json: { display_name: "x" } })).status).toBe(404);

    const del1 = await callJson<{ session: string }>(`/_matrix/client/v3/devices/${other.body.device_id}`, { method: "DELETE", token: u.accessToken, json: {} });
    expect(del1.status).toBe(401);
    const del2 = await callJson(`/_matrix/client/v3/devices/${other.body.device_id}`, {
      method: "DELETE",
      token: u.accessToken,
      json: { auth: { type: "m.login.password", identifier: { type: "m.id.user", user: u.userId }, password: "pw", session: del1.body.session } },
    });
    expect(del2.status).toBe(200);
    expect((await callJson("/_matrix/client/v3/account/whoami", { token: other.body.access_token })).status).toBe(401);
  });

  it("delete_devices removes several devices after UIA", async () => {
    const u = await registerUser("oscar", { password: "pw" });
    const a = await login("oscar", "pw");
    const b = await login("oscar", "pw");
    const start = await callJson<{ session: string }>("/_matrix/client/v3/delete_devices", { method: "POST", token: u.accessToken, json: { devices: [a.body.device_id, b.body.device_id] } });
    expect(start.status).toBe(401);
    const done = await callJson("/_matrix/client/v3/delete_devices", {
      method: "POST",
      token: u.accessToken,
      json: { devices: [a.body.device_id, b.body.device_id], auth: { type: "m.login.password", user: "oscar", password: "pw", session: start.body.session } },
    });
    expect(done.status).toBe(200);
    const list = await callJson<{ devices: unknown[] }>("/_matrix/client/v3/devices", { token: u.accessToken });
    expect(list.body.devices).toHaveLength(1);
    // A session started for one operation cannot authorise another.
    const other = await callJson("/_matrix/client/v1/login/get_token", {
      method: "POST",
      token: u.accessToken,
      json: { auth: { type: "m.login.password", user: "oscar", password: "pw", session: start.body.session } },
    });
    expect(other.status).toBeGreaterThanOrEqual(400);
    expect(other.status).toBeLessThan(500);
  });
});

describe("account", () => {
  it("password change logs out other devices unless asked not to", async () => {
    const u = await registerUser("peggy", { password: "old-pw" });
    const other = await login("peggy", "old-pw");
    const start = await callJson<{ session: string }>("/_matrix/client/v3/account/password", { method: "POST", token: u.accessToken, json: { new_password: "new-pw" } });
    expect(start.status).toBe(401);
    const done = await callJson("/_matrix/client/v3/account/password", {
      method: "POST",
      token: u.accessToken,
      json: { new_password: "new-pw", auth: { type: "m.login.password", user: "peggy", password: "old-pw", session: start.body.session } },
    });
    expect(done.status).toBe(200);
    expect((await callJson("/_matrix/client/v3/account/whoami", { token: other.body.access_token })).status).toBe(401);
    expect((await callJson("/_matrix/client/v3/account/whoami", { token: u.accessToken })).status).toBe(200);
    expect((await login("peggy", "old-pw")).status).toBe(403);
    const kept = await login("peggy", "new-pw");
    expect(kept.status).toBe(200);
    const s2 = await callJson<{ session: string }>("/_matrix/client/v3/account/password", { method: "POST", token: u.accessToken, json: { new_password: "newer" } });
    await callJson("/_matrix/client/v3/account/password", {
      method: "POST",
      token: u.accessToken,
      json: { new_password: "newer", logout_devices: false, auth: { type: "m.login.password", user: "peggy", password: "new-pw", session: s2.body.session } },
    });
    expect((await callJson("/_matrix/client/v3/account/whoami", { token: kept.body.access_token })).status).toBe(200);
  });

  it("deactivation (with erase) revokes everything and blocks login", async () => {
    const u = await registerUser("quentin", { password: "pw" });
    const start = await callJson<{ session: string }>("/_matrix/client/v3/account/deactivate", { method: "POST", token: u.accessToken, json: { erase: true } });
    const done = await callJson("/_matrix/client/v3/account/deactivate", {
      method: "POST",
      token: u.accessToken,
      json: { erase: true, auth: { type: "m.login.password", user: "quentin", password: "pw", session: start.body.session } },
    });
    expect(done.status).toBe(200);
    expect(done.body).toEqual({ id_server_unbind_result: "no-support" });
    expect((await callJson("/_matrix/client/v3/account/whoami", { token: u.accessToken })).status).toBe(401);
    expect((await login("quentin", "pw")).status).toBe(403);
    expect((await callJson(`/_matrix/client/v3/profile/${u.userId}`)).status).toBe(404);
    // The name stays taken.
    expect((await callJson("/_matrix/client/v3/register/available?username=quentin")).body.errcode).toBe("M_USER_IN_USE");
  });

  it("capabilities describe what the server allows", async () => {
    const u = await registerUser();
    const r = await callJson<{ capabilities: Record<string, { enabled?: boolean; default?: string; available?: Record<string, string> }> }>("/_matrix/client/v3/capabilities", { token: u.accessToken });
    expect(r.body.capabilities["m.change_password"]).toEqual({ enabled: true });
    expect(r.body.capabilities["m.get_login_token"]).toEqual({ enabled: true });
    expect(r.body.capabilities["m.3pid_changes"]).toEqual({ enabled: false });
    expect(r.body.capabilities["m.room_versions"]?.default).toBe("12");
    expect(Object.keys(r.body.capabilities["m.room_versions"]?.available ?? {})).toHaveLength(12);
    expect((await callJson("/_matrix/client/v3/capabilities")).status).toBe(401);
  });

  it("third-party identifier endpoints answer the spec's errors", async () => {
    const u = await registerUser();
    expect((await callJson("/_matrix/client/v3/account/3pid", { token: u.accessToken })).body).toEqual({ threepids: [] });
    const req = { client_secret: "s3cret", email: "a@example.org", send_attempt: 1 };
    expect((await callJson("/_matrix/client/v3/account/3pid/email/requestToken", { method: "POST", token: u.accessToken, json: req })).body.errcode).toBe("M_THREEPID_MEDIUM_NOT_SUPPORTED");
    expect((await callJson("/_matrix/client/v3/register/email/requestToken", { method: "POST", json: req })).body.errcode).toBe("M_THREEPID_DENIED");
    expect((await callJson("/_matrix/client/v3/account/password/email/requestToken", { method: "POST", json: req })).body.errcode).toBe("M_THREEPID_NOT_FOUND");
    expect((await callJson("/_matrix/client/v3/account/3pid/email/requestToken", { method: "POST", token: u.accessToken, json: { email: 1 } })).body.errcode).toBe("M_MISSING_PARAM");
    expect((await callJson("/_matrix/client/v3/account/3pid/email/requestToken", { method: "POST", token: u.accessToken, json: { ...req, send_attempt: "1" } })).body.errcode).toBe("M_BAD_JSON");
    expect((await callJson("/_matrix/client/v3/account/3pid/delete", { method: "POST", token: u.accessToken, json: { medium: "email", address: "a@example.org" } })).body).toEqual({ id_server_unbind_result: "no-support" });
    const add = await callJson<{ session: string }>("/_matrix/client/v3/account/3pid/add", { method: "POST", token: u.accessToken, json: { client_secret: "s", sid: "1" } });
    expect(add.status).toBe(401);
  });
});

describe("profiles", () => {
  it("sets, reads and deletes fields with the spec's limits", async () => {
    const u = await registerUser("rita");
    const base = `/_matrix/client/v3/profile/${encodeURIComponent(u.userId)}`;
    expect((await callJson(base)).body).toEqual({ displayname: "rita" });
    expect((await callJson(`${base}/displayname`, { method: "PUT", token: u.accessToken, json: { displayname: "Rita R." } })).status).toBe(200);
    expect((await callJson(`${base}/avatar_url`, { method: "PUT", token: u.accessToken, json: { avatar_url: "mxc://localhost:8008/abc" } })).status).toBe(200);
    expect((await callJson(`${base}/m.tz`, { method: "PUT", token: u.accessToken, json: { "m.tz": "Europe/Paris" } })).status).toBe(200);
    expect((await callJson(`${base}/org.example.pronouns`, { method: "PUT", token: u.accessToken, json: { "org.example.pronouns": ["she"] } })).status).toBe(200);
    expect((await callJson(base)).body).toEqual({
      displayname: "Rita R.",
      avatar_url: "mxc://localhost:8008/abc",
      "m.tz": "Europe/Paris",
      "org.example.pronouns": ["she"],
    });
    expect((await callJson(`${base}/displayname`)).body).toEqual({ displayname: "Rita R." });
    expect((await callJson(`${base}/org.example.pronouns`, { method: "DELETE", token: u.accessToken })).status).toBe(200);
    expect((await callJson(`${base}/org.example.pronouns`)).status).toBe(404);

    expect((await callJson(`${base}/displayname`, { method: "PUT", token: u.accessToken, json: { displayname: 5 } })).body.errcode).toBe("M_INVALID_PARAM");
    expect((await callJson(`${base}/displayname`, { method: "PUT", token: u.accessToken, json: {} })).body.errcode).toBe("M_MISSING_PARAM");
    expect((await callJson(`${base}/NotNamespaced`, { method: "PUT", token: u.accessToken, json: { NotNamespaced: 1 } })).body.errcode).toBe("M_INVALID_PARAM");
    const longKey = `org.${"a".repeat(260)}`;
    expect((await callJson(`${base}/${longKey}`, { method: "PUT", token: u.accessToken, json: { [longKey]: 1 } })).body.errcode).toBe("M_KEY_TOO_LARGE");
    const big = await callJson(`${base}/org.example.big`, { method: "PUT", token: u.accessToken, json: { "org.example.big": "x".repeat(70_000) } });
    expect(big.status).toBe(400);
    expect(big.body.errcode).toBe("M_PROFILE_TOO_LARGE");
  });

  it("only the owner may change a profile; unknown users are M_NOT_FOUND", async () => {
    const a = await registerUser();
    const b = await registerUser();
    const r = await callJson(`/_matrix/client/v3/profile/${encodeURIComponent(b.userId)}/displayname`, { method: "PUT", token: a.accessToken, json: { displayname: "x" } });
    expect(r.status).toBe(403);
    expect(r.body.errcode).toBe("M_FORBIDDEN");
    expect((await callJson("/_matrix/client/v3/profile/@ghost:localhost:8008")).body.errcode).toBe("M_NOT_FOUND");
    expect((await callJson("/_matrix/client/v3/profile/@ghost:localhost:8008/displayname")).status).toBe(404);
    expect((await callJson("/_matrix/client/v3/profile/notauser")).status).toBe(400);
  });
});

describe("rate limits on credential endpoints", () => {
  it("login is limited per IP with 429 M_LIMIT_EXCEEDED", async () => {
    const ip = "198.51.100.9";
    let limited: { status: number; body: Record<string, unknown> } | undefined;
    for (let i = 0; i < 140 && !limited; i++) {
      const r = await callJson("/_matrix/client/v3/login", { method: "POST", ip, json: { type: "m.login.password", user: "x", password: "y" } });
      if (r.status === 429) limited = r;
    }
    expect(limited?.body.errcode).toBe("M_LIMIT_EXCEEDED");
    expect(limited?.body.retry_after_ms).toBeGreaterThan(0);
  });
});

describe("authentication is required", () => {
  it("on device and admin endpoints", async () => {
    for (const path of ["/_matrix/client/v3/devices", "/_matrix/client/v3/devices/X", "/_synapse/admin/v1/registration_tokens", "/_synapse/admin/v1/registration_tokens/x"]) {
      const r = await callJson(path);
      expect(r.status, path).toBe(401);
      expect(r.body.errcode, path).toBe("M_MISSING_TOKEN");
    }
  });
});
