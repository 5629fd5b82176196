import { beforeAll, describe, expect, it } from "vitest";
import { callJson, login, registerUser, type TestUser } from "./helpers.js";
import { type Json, ok } from "./push-helpers.js";

const SET = "/_matrix/client/v3/pushers/set";
const GET = "/_matrix/client/v3/pushers";

const pusher = (over: Json = {}): Json => ({
  lang: "en",
  kind: "http",
  app_display_name: "Mat Rix",
  device_display_name: "iPhone 9",
  profile_tag: "xxyyzz",
  app_id: "com.example.app.ios",
  pushkey: "APA91bHPRgkF3JUikC4ENAHEeMrd41Zxv3hVZjC9KtT8OvPVGJ",
  data: { url: "https://push-gateway.location.here/_matrix/push/v1/notify", format: "event_id_only", "com.example.custom": 1 },
  append: false,
  ...over,
});

let a: TestUser;
let b: TestUser;
beforeAll(async () => {
  [a, b] = await Promise.all([registerUser(), registerUser()]);
}, 60_000);

const set = (u: TestUser, body: Json) => callJson<Json>(SET, { method: "POST", token: u.accessToken, json: body });
const list = async (u: TestUser) => (await ok(GET, u)).pushers as Json[];

describe("pushers", () => {
  it("sets, lists, updates and deletes a pusher", async () => {
    const u = await registerUser();
    expect(await list(u)).toEqual([]);
    expect((await set(u, pusher())).status).toBe(200);
    expect(await list(u)).toEqual([
      {
        pushkey: "APA91bHPRgkF3JUikC4ENAHEeMrd41Zxv3hVZjC9KtT8OvPVGJ",
        kind: "http",
        app_id: "com.example.app.ios",
        app_display_name: "Mat Rix",
        device_display_name: "iPhone 9",
        profile_tag: "xxyyzz",
        lang: "en",
        data: { url: "https://push-gateway.location.here/_matrix/push/v1/notify", format: "event_id_only", "com.example.custom": 1 },
      },
    ]);
    // Same (app_id, pushkey): an update, not a second pusher.
    expect((await set(u, pusher({ lang: "de", device_display_name: "Phone" }))).status).toBe(200);
    const [p] = await list(u);
    expect([p!.lang, p!.device_display_name]).toEqual(["de", "Phone"]);
    // Another pushkey is another pusher.
    await set(u, pusher({ pushkey: "other", profile_tag: undefined }));
    expect((await list(u)).map((x) => x.pushkey).sort()).toEqual(["APA91bHPRgkF3JUikC4ENAHEeMrd41Zxv3hVZjC9KtT8OvPVGJ", "other"]);
    expect((await list(u)).find((x) => x.pushkey === "other")!.profile_tag).toBeUndefined();
    // kind: null deletes (other fields not needed).
    expect((await set(u, { kind: null, app_id: "com.example.app.ios", pushkey: "other" })).status).toBe(200);
    expect((await list(u)).map((x) => x.pushkey)).toEqual(["APA91bHPRgkF3JUikC4ENAHEeMrd41Zxv3hVZjC9KtT8OvPVGJ"]);
    // Deleting a pusher that does not exist is fine.
    expect((await set(u, { kind: null, app_id: "nope", pushkey: "nope" })).status).toBe(200);
  });

  it("append: false takes the (app_id, pushkey) over from other users; append: true shares it", async () => {
    const shared = pusher({ pushkey: `shared-${crypto.randomUUID()}` });
    await set(a, shared);
    await set(b, { ...shared, append: true });
    expect((await list(a)).some((x) => x.pushkey === shared.pushkey)).toBe(true);
    expect((await list(b)).some((x) => x.pushkey === shared.pushkey)).toBe(true);
    await set(b, { ...shared, append: false });
    expect((await list(a)).some((x) => x.pushkey === shared.pushkey)).toBe(false);
    expect((await list(b)).some((x) => x.pushkey === shared.pushkey)).toBe(true);
  });

  it("refuses invalid pushers with the spec's error codes", async () => {
    const cases: Array<[Json, number, string]> = [
      [{ kind: "http", app_id: "x" }, 400, "M_MISSING_PARAM"],
      [{ ...pusher(), lang: undefined, data: undefined }, 400, "M_MISSING_PARAM"],
      [pusher({ kind: "sms" }), 400, "M_INVALID_PARAM"],
      [pusher({ data: { format: "event_id_only" } }), 400, "M_MISSING_PARAM"],
      [pusher({ data: { url: "https://push.example/notify" } }), 400, "M_INVALID_PARAM"],
      [pusher({ data: { url: "ftp://push.example/_matrix/push/v1/notify" } }), 400, "M_INVALID_PARAM"],
      [pusher({ data: { url: "nonsense" } }), 400, "M_INVALID_PARAM"],
      [pusher({ app_id: "x".repeat(65) }), 400, "M_INVALID_PARAM"],
      [pusher({ pushkey: "k".repeat(513) }), 400, "M_INVALID_PARAM"],
      [pusher({ data: "url" }), 400, "M_BAD_JSON"],
      [pusher({ append: "no" }), 400, "M_BAD_JSON"],
      [pusher({ kind: "email", app_id: "m.email", pushkey: "a@example.org" }), 400, "M_THREEPID_NOT_FOUND"],
    ];
    for (const [body, status, errcode] of cases) {
      const r = await set(a, body);
      expect([JSON.stringify(body).slice(0, 80), r.status, r.body.errcode]).toEqual([JSON.stringify(body).slice(0, 80), status, errcode]);
    }
    const missing = await set(a, { ...pusher(), lang: undefined, data: undefined });
    expect(missing.body.error).toBe("Missing parameters: lang, data");
    const noAuth = await callJson<Json>(GET);
    expect(noAuth.status).toBe(401);
  });

  it("accepts a plain-http gateway (a gateway on a private network)", async () => {
    const u = await registerUser();
    expect((await set(u, pusher({ data: { url: "http://127.0.0.1:8081/_matrix/push/v1/notify" } }))).status).toBe(200);
  });
});

describe("pushers and devices", () => {
  it("a device's pushers go when it logs out", async () => {
    const u = await registerUser(undefined, { password: "pw" });
    const second = await login(u.userId, "pw");
    const phone: TestUser = { ...u, accessToken: second.body.access_token, deviceId: second.body.device_id };
    expect((await set(phone, pusher({ pushkey: "phone-key" }))).status).toBe(200);
    expect((await set(u, pusher({ pushkey: "laptop-key" }))).status).toBe(200);
    expect((await list(u)).map((p) => p.pushkey).sort()).toEqual(["laptop-key", "phone-key"]);
    expect((await callJson("/_matrix/client/v3/logout", { method: "POST", token: phone.accessToken })).status).toBe(200);
    expect((await list(u)).map((p) => p.pushkey)).toEqual(["laptop-key"]);
  });
});
