import { describe, expect, it } from "vitest";
import { sharedSecretRegister } from "../admin-helpers.js";
import { callJson, login } from "../helpers.js";

describe("closed registration", () => {
  it("refuses /register but the admin bootstrap still works", async () => {
    const r = await callJson("/_matrix/client/v3/register", { method: "POST", json: { username: "x", password: "y" } });
    expect(r.status).toBe(403);
    expect(r.body.errcode).toBe("M_FORBIDDEN");
    const guest = await callJson("/_matrix/client/v3/register?kind=guest", { method: "POST", json: {} });
    expect(guest.body.errcode).toBe("M_GUEST_ACCESS_FORBIDDEN");
    expect((await callJson("/_matrix/client/v1/register/m.login.registration_token/validity?token=x")).status).toBe(403);
    const admin = await sharedSecretRegister("boss", "boss-pw", true);
    expect(admin.status).toBe(200);
    expect((await login("boss", "boss-pw")).status).toBe(200);
  });
});
