import { describe, expect, it } from "vitest";
import { callJson, registerUser } from "./helpers.js";

describe("OpenID", () => {
  it("issues a token that userinfo resolves to the user, and refuses others", async () => {
    const u = await registerUser();
    const other = await registerUser();
    const r = await callJson<{ access_token: string; token_type: string; matrix_server_name: string; expires_in: number }>(
      `/_matrix/client/v3/user/${encodeURIComponent(u.userId)}/openid/request_token`,
      { method: "POST", token: u.accessToken, json: {} },
    );
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ token_type: "Bearer", matrix_server_name: "localhost:8008" });
    expect(r.body.expires_in).toBeGreaterThan(0);
    const info = await callJson(`/_matrix/federation/v1/openid/userinfo?access_token=${encodeURIComponent(r.body.access_token)}`);
    expect(info.body).toEqual({ sub: u.userId });
    const bad = await callJson("/_matrix/federation/v1/openid/userinfo?access_token=nope");
    expect(bad.status).toBe(401);
    expect(bad.body.errcode).toBe("M_UNKNOWN_TOKEN");
    expect((await callJson("/_matrix/federation/v1/openid/userinfo")).status).toBe(401);
    const forOther = await callJson(`/_matrix/client/v3/user/${encodeURIComponent(other.userId)}/openid/request_token`, { method: "POST", token: u.accessToken, json: {} });
    expect(forOther.status).toBe(403);
    // The user's access token is not an OpenID token.
    expect((await callJson(`/_matrix/federation/v1/openid/userinfo?access_token=${u.accessToken}`)).status).toBe(401);
  });

  it("answers TURN and third-party protocol lookups with nothing configured", async () => {
    const u = await registerUser();
    expect((await callJson("/_matrix/client/v3/voip/turnServer", { token: u.accessToken })).body).toEqual({});
    expect((await callJson("/_matrix/client/v3/thirdparty/protocols", { token: u.accessToken })).body).toEqual({});
    expect((await callJson("/_matrix/client/v3/voip/turnServer")).status).toBe(401);
  });
});
