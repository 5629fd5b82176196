// Accounts end to end: matrix-js-sdk against the real server (see harness.ts).
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { HttpApiEvent, InteractiveAuth, MatrixError, type AuthDict, type IAuthData } from "matrix-js-sdk";
import { describe, expect, it } from "vitest";
import {
  anonymousClient,
  clientFor,
  E2E_SHARED_SECRET,
  expectMatrixError,
  fetchJson,
  login,
  loginClient,
  register,
  registerClient,
  REPO_ROOT,
  uniqueName,
  useServer,
  waitFor,
} from "./harness.js";

const hs = useServer();
const PASSWORD = "correct horse battery staple";

/** The m.login.password auth dict the SDK sends for a UIA stage. */
const passwordAuth = (userId: string, password: string, session?: string): AuthDict => ({
  type: "m.login.password",
  identifier: { type: "m.id.user", user: userId },
  password,
  ...(session ? { session } : {}),
});

describe("server discovery", () => {
  it("getVersions lists the spec versions served", async () => {
    const v = await anonymousClient(hs.baseUrl).getVersions();
    expect(v.versions).toContain("v1.11");
    expect(v.versions.every((x) => /^[rv]\d+\.\d+(\.\d+)?$/.test(x))).toBe(true);
  });

  it("loginFlows offers password and token login", async () => {
    const flows = await anonymousClient(hs.baseUrl).loginFlows();
    expect(flows.flows.map((f) => f.type)).toEqual(expect.arrayContaining(["m.login.password", "m.login.token"]));
  });
});

describe("registration and login", () => {
  it("registers through UIA (m.login.dummy) and whoami names the new device", async () => {
    const name = uniqueName("reg");
    const anon = anonymousClient(hs.baseUrl);
    // The first request is the UIA challenge: 401 with a session and the dummy flow.
    let data: IAuthData | undefined;
    try {
      await anon.registerRequest({ username: `${name}x`, password: PASSWORD });
    } catch (e) {
      expect(e).toBeInstanceOf(MatrixError);
      expect((e as MatrixError).httpStatus).toBe(401);
      data = (e as MatrixError).data as IAuthData;
    }
    expect(data?.flows).toEqual([{ stages: ["m.login.dummy"] }]);
    expect(data?.session).toEqual(expect.any(String));
    const done = await anon.registerRequest({ username: `${name}x`, password: PASSWORD, auth: { type: "m.login.dummy", session: data!.session! } });
    expect(done.user_id).toBe(`@${name}x:${hs.serverName}`);
    expect(done.access_token).toEqual(expect.any(String));
    expect(done.refresh_token).toBeUndefined();

    const client = clientFor(hs.baseUrl, { userId: done.user_id, accessToken: done.access_token!, deviceId: done.device_id! });
    expect(await client.whoami()).toEqual({ user_id: done.user_id, device_id: done.device_id, is_guest: false });
    // The spent session cannot register anything else.
    const again = await anon.registerRequest({ username: `${name}y`, password: PASSWORD, auth: { type: "m.login.dummy", session: data!.session! } }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(MatrixError);
    expect((again as MatrixError).httpStatus).toBeGreaterThanOrEqual(400);
    // And the name is taken now.
    await expectMatrixError(anon.registerRequest({ username: `${name}x`, password: PASSWORD }), "M_USER_IN_USE", 400);
  });

  it("the SDK's registerGuest gives a guest session", async () => {
    const anon = anonymousClient(hs.baseUrl);
    const g = await anon.registerGuest();
    expect(g.user_id).toMatch(new RegExp(`^@\\d+:${hs.serverName.replace(/[.]/g, "\\.")}$`));
    const guest = clientFor(hs.baseUrl, { userId: g.user_id, accessToken: g.access_token!, deviceId: g.device_id! });
    expect((await guest.whoami()).is_guest).toBe(true);
  });

  it("logs in with a password via loginRequest and via the deprecated login(); wrong passwords are M_FORBIDDEN", async () => {
    const name = uniqueName("login");
    const first = await registerClient(hs.baseUrl, name, PASSWORD);
    const userId = first.getSafeUserId();

    const anon = anonymousClient(hs.baseUrl);
    const viaRequest = await anon.loginRequest({
      type: "m.login.password",
      identifier: { type: "m.id.user", user: name },
      password: PASSWORD,
      initial_device_display_name: "e2e laptop",
    });
    expect(viaRequest.user_id).toBe(userId);
    expect(viaRequest.device_id).not.toBe(first.getDeviceId());
    expect(viaRequest.refresh_token).toBeUndefined();
    expect(viaRequest.expires_in_ms).toBeUndefined();
    expect(viaRequest.well_known?.["m.homeserver"]?.base_url).toBe(hs.baseUrl);

    const legacy = anonymousClient(hs.baseUrl);
    const viaLogin = await legacy.login("m.login.password", { identifier: { type: "m.id.user", user: userId }, password: PASSWORD });
    expect(viaLogin.user_id).toBe(userId);
    // login() puts the token into the client it was called on.
    expect((await legacy.whoami()).device_id).toBe(viaLogin.device_id);

    const laptop = clientFor(hs.baseUrl, { userId, accessToken: viaRequest.access_token, deviceId: viaRequest.device_id });
    expect(await laptop.whoami()).toEqual({ user_id: userId, device_id: viaRequest.device_id, is_guest: false });
    const { devices } = await laptop.getDevices();
    expect(devices.map((d) => d.device_id).sort()).toEqual([first.getDeviceId(), viaRequest.device_id, viaLogin.device_id].sort());
    expect(devices.find((d) => d.device_id === viaRequest.device_id)?.display_name).toBe("e2e laptop");

    await expectMatrixError(anon.loginRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: name }, password: "wrong" }), "M_FORBIDDEN", 403);
    await expectMatrixError(anon.loginRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: uniqueName("nobody") }, password: PASSWORD }), "M_FORBIDDEN", 403);
  });

  it("unknown tokens are M_UNKNOWN_TOKEN and the SDK reports the session as logged out", async () => {
    const c = clientFor(hs.baseUrl, { userId: `@ghost:${hs.serverName}`, accessToken: "mat_not_a_token", deviceId: "NOPE" });
    const loggedOut = new Promise<MatrixError>((resolve) => c.once(HttpApiEvent.SessionLoggedOut, resolve));
    const err = await expectMatrixError(c.whoami(), "M_UNKNOWN_TOKEN", 401);
    expect(err.data.soft_logout).toBe(false);
    expect((await loggedOut).errcode).toBe("M_UNKNOWN_TOKEN");
  });
});

describe("refresh tokens", () => {
  // matrix-js-sdk 43 refreshes automatically only for OAuth 2.0 (MSC3861) sessions
  // (TokenManager needs oauth2ClientConfig); for Matrix-native refresh tokens the
  // SDK's API is client.refreshToken(), which POSTs /v3/refresh, as here.
  it("login with refresh_token: true gets an expiring token; /refresh rotates it and refuses the old refresh token", async () => {
    const name = uniqueName("refresh");
    await register(hs.baseUrl, name, PASSWORD);
    const creds = await login(hs.baseUrl, name, PASSWORD, { refreshToken: true });
    expect(creds.refreshToken).toEqual(expect.any(String));
    expect(creds.expiresInMs).toBeGreaterThan(0);

    const refreshed: string[] = [];
    const client = clientFor(hs.baseUrl, creds, { onTokenRefresh: (t) => refreshed.push(t.accessToken) });
    expect(client.getRefreshToken()).toBe(creds.refreshToken);
    expect((await client.whoami()).device_id).toBe(creds.deviceId);

    const r = await client.refreshToken(creds.refreshToken!);
    expect(r.access_token).not.toBe(creds.accessToken);
    expect(r.refresh_token).not.toBe(creds.refreshToken);
    expect(r.expires_in_ms).toBeGreaterThan(0);

    // The new access token works, on the same device.
    const renewed = clientFor(hs.baseUrl, { ...creds, accessToken: r.access_token, refreshToken: r.refresh_token! });
    expect(await renewed.whoami()).toEqual({ user_id: creds.userId, device_id: creds.deviceId, is_guest: false });
    // Its first use retires the old access token (asynchronously, after that response).
    await waitFor(
      async () => {
        try {
          await client.whoami();
          return false;
        } catch (e) {
          return e instanceof MatrixError && e.errcode === "M_UNKNOWN_TOKEN";
        }
      },
      { what: "the old access token to be retired" },
    );
    // The old refresh token is spent.
    const replay = await expectMatrixError(renewed.refreshToken(creds.refreshToken!), "M_UNKNOWN_TOKEN", 401);
    expect(replay.data.soft_logout).toBe(false);
    // The new one rotates again.
    const r2 = await renewed.refreshToken(r.refresh_token!);
    expect(r2.refresh_token).not.toBe(r.refresh_token);
    expect(refreshed).toEqual([]); // nothing was refreshed behind our back
  });

  it("registration can ask for a refresh token too", async () => {
    const creds = await register(hs.baseUrl, uniqueName("regrefresh"), PASSWORD, { refreshToken: true });
    expect(creds.refreshToken).toEqual(expect.any(String));
    expect(creds.expiresInMs).toBeGreaterThan(0);
    const c = clientFor(hs.baseUrl, creds);
    const r = await c.refreshToken(creds.refreshToken!);
    expect((await clientFor(hs.baseUrl, { ...creds, accessToken: r.access_token }).whoami()).user_id).toBe(creds.userId);
  });
});

describe("devices", () => {
  it("getDevices, getDevice and setDeviceDetails", async () => {
    const name = uniqueName("dev");
    const phone = await registerClient(hs.baseUrl, name, PASSWORD, { deviceName: "phone" });
    const laptop = await loginClient(hs.baseUrl, name, PASSWORD, { deviceId: "E2ELAPTOP", deviceName: "laptop" });
    expect(laptop.getDeviceId()).toBe("E2ELAPTOP");

    const { devices } = await phone.getDevices();
    expect(devices).toHaveLength(2);
    expect(Object.fromEntries(devices.map((d) => [d.device_id, d.display_name]))).toEqual({ [phone.getDeviceId()!]: "phone", E2ELAPTOP: "laptop" });
    for (const d of devices) expect(d.last_seen_ts).toEqual(expect.any(Number));

    await phone.setDeviceDetails("E2ELAPTOP", { display_name: "work laptop" });
    expect((await laptop.getDevice("E2ELAPTOP")).display_name).toBe("work laptop");
    await expectMatrixError(phone.setDeviceDetails("NOSUCHDEVICE", { display_name: "x" }), "M_NOT_FOUND", 404);
    await expectMatrixError(phone.getDevice("NOSUCHDEVICE"), "M_NOT_FOUND", 404);
  });

  it("deleteDevice needs UIA with m.login.password and revokes the device's token", async () => {
    const name = uniqueName("deldev");
    const main = await registerClient(hs.baseUrl, name, PASSWORD);
    const doomed = await loginClient(hs.baseUrl, name, PASSWORD);
    const doomedId = doomed.getDeviceId()!;

    // Without auth: the UIA challenge.
    let challenge: IAuthData | undefined;
    try {
      await main.deleteDevice(doomedId);
    } catch (e) {
      expect(e).toBeInstanceOf(MatrixError);
      expect((e as MatrixError).httpStatus).toBe(401);
      challenge = (e as MatrixError).data as IAuthData;
    }
    expect(challenge?.flows).toEqual([{ stages: ["m.login.password"] }]);
    const session = challenge!.session!;

    // A wrong password is refused, and the session stays usable.
    const wrong = await main.deleteDevice(doomedId, passwordAuth(main.getSafeUserId(), "wrong", session)).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(MatrixError);
    expect((wrong as MatrixError).httpStatus).toBe(401);
    expect((wrong as MatrixError).errcode).toBe("M_FORBIDDEN");
    expect(((wrong as MatrixError).data as IAuthData).session).toBe(session);

    await main.deleteDevice(doomedId, passwordAuth(main.getSafeUserId(), PASSWORD, session));
    await expectMatrixError(doomed.whoami(), "M_UNKNOWN_TOKEN", 401);
    expect((await main.getDevices()).devices.map((d) => d.device_id)).toEqual([main.getDeviceId()]);
    await expectMatrixError(main.deleteDevice(doomedId), "M_NOT_FOUND", 404);
  });

  it("deleteMultipleDevices through the SDK's InteractiveAuth", async () => {
    const name = uniqueName("deldevs");
    const main = await registerClient(hs.baseUrl, name, PASSWORD);
    const others = [await loginClient(hs.baseUrl, name, PASSWORD), await loginClient(hs.baseUrl, name, PASSWORD)];
    const ids = others.map((c) => c.getDeviceId()!);

    const stages: string[] = [];
    const ia: InteractiveAuth<unknown> = new InteractiveAuth({
      matrixClient: main,
      doRequest: (auth) => main.deleteMultipleDevices(ids, auth ?? undefined),
      stateUpdated: (stage) => {
        stages.push(stage);
        // What a client's password dialog does: answer the stage the SDK picked.
        if (stage === "m.login.password") void ia.submitAuthDict(passwordAuth(main.getSafeUserId(), PASSWORD));
      },
      requestEmailToken: () => Promise.reject(new Error("no email stage expected")),
    });
    await ia.attemptAuth();
    expect(stages).toContain("m.login.password");

    for (const c of others) await expectMatrixError(c.whoami(), "M_UNKNOWN_TOKEN", 401);
    expect((await main.getDevices()).devices.map((d) => d.device_id)).toEqual([main.getDeviceId()]);
  });

  it("logout ends the session and removes its device", async () => {
    const name = uniqueName("logout");
    const main = await registerClient(hs.baseUrl, name, PASSWORD);
    const leaving = await loginClient(hs.baseUrl, name, PASSWORD);
    const leavingId = leaving.getDeviceId();
    const token = leaving.getAccessToken()!;
    await leaving.logout(true);
    const r = await fetchJson(hs.baseUrl, "/_matrix/client/v3/account/whoami", { token });
    expect(r.status).toBe(401);
    expect(r.body.errcode).toBe("M_UNKNOWN_TOKEN");
    expect((await main.getDevices()).devices.map((d) => d.device_id)).not.toContain(leavingId);
    expect((await main.whoami()).device_id).toBe(main.getDeviceId());
  });
});

describe("capabilities and profile", () => {
  it("getCapabilities describes the server", async () => {
    const c = await registerClient(hs.baseUrl, uniqueName("caps"), PASSWORD);
    const caps = await c.getCapabilities();
    expect(caps["m.change_password"]).toEqual({ enabled: true });
    expect(caps["m.set_displayname"]).toEqual({ enabled: true });
    expect(caps["m.room_versions"]?.default).toBe("12");
    expect(caps["m.room_versions"]?.available["12"]).toBe("stable");
    // The SDK caches what it fetched.
    expect(c.getCachedCapabilities()?.["m.change_password"]).toEqual({ enabled: true });
  });

  it("setDisplayName / setAvatarUrl and getProfileInfo, seen by another user", async () => {
    const name = uniqueName("prof");
    const alice = await registerClient(hs.baseUrl, name, PASSWORD);
    const bob = await registerClient(hs.baseUrl, uniqueName("bob"), PASSWORD);
    const id = alice.getSafeUserId();
    // Registration sets the localpart as display name.
    expect(await bob.getProfileInfo(id)).toEqual({ displayname: name });

    await alice.setDisplayName("Alice Ä. 🦊");
    await alice.setAvatarUrl(`mxc://${hs.serverName}/avatar123`);
    expect(await bob.getProfileInfo(id)).toEqual({ displayname: "Alice Ä. 🦊", avatar_url: `mxc://${hs.serverName}/avatar123` });
    expect(await bob.getProfileInfo(id, "displayname")).toEqual({ displayname: "Alice Ä. 🦊" });
    // Profiles are public: an anonymous client reads them too.
    expect((await anonymousClient(hs.baseUrl).getProfileInfo(id)).displayname).toBe("Alice Ä. 🦊");
    await expectMatrixError(bob.getProfileInfo(`@${uniqueName("nobody")}:${hs.serverName}`), "M_NOT_FOUND", 404);
  });
});

describe("admin bootstrap (scripts/register-admin.mjs)", () => {
  it("creates an admin through shared-secret registration who can log in and use the admin API", async () => {
    const name = uniqueName("admin");
    const { stdout } = await promisify(execFile)(process.execPath, [join(REPO_ROOT, "scripts/register-admin.mjs"), name, PASSWORD, "--url", hs.baseUrl], {
      cwd: REPO_ROOT,
      env: { ...process.env, REGISTRATION_SHARED_SECRET: E2E_SHARED_SECRET },
      timeout: 30_000,
    });
    const userId = `@${name}:${hs.serverName}`;
    expect(stdout).toContain(`Created admin ${userId}`);

    const admin = await loginClient(hs.baseUrl, name, PASSWORD);
    expect((await admin.whoami()).user_id).toBe(userId);
    const tokens = await fetchJson(hs.baseUrl, "/_synapse/admin/v1/registration_tokens", { token: admin.getAccessToken()! });
    expect(tokens.status).toBe(200);
    expect(tokens.body).toEqual({ registration_tokens: [] });

    // A plain user may not use the admin API.
    const plain = await registerClient(hs.baseUrl, uniqueName("plain"), PASSWORD);
    const denied = await fetchJson(hs.baseUrl, "/_synapse/admin/v1/registration_tokens", { token: plain.getAccessToken()! });
    expect(denied.status).toBe(403);

    // The wrong secret is refused, with a non-zero exit.
    const bad = await promisify(execFile)(process.execPath, [join(REPO_ROOT, "scripts/register-admin.mjs"), uniqueName("admin"), PASSWORD, "--url", hs.baseUrl], {
      cwd: REPO_ROOT,
      env: { ...process.env, REGISTRATION_SHARED_SECRET: "not-the-secret" },
      timeout: 30_000,
    }).catch((e: { code?: number; stderr?: string }) => e);
    expect((bad as { code?: number }).code).toBe(1);
    expect((bad as { stderr?: string }).stderr).toMatch(/Failed \(\d+\)/);
  });
});
