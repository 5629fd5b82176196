// The harness itself: server options reach the Worker, state is per server, and
// the SDK pieces later tests rely on (rust crypto in Node) load.
import { describe, expect, it } from "vitest";
import { anonymousClient, expectMatrixError, fetchJson, registerClient, uniqueName, useServer } from "./harness.js";

describe("a server with overridden vars and rate limits", () => {
  const hs = useServer({ vars: { REGISTRATION: "closed", ALLOW_GUESTS: "false" }, rateLimits: { RL_AUTH: { limit: 4, period: 60 } } });

  it("applies the vars: closed registration, no guests, own server name and base URL", async () => {
    const anon = anonymousClient(hs.baseUrl);
    await expectMatrixError(anon.registerRequest({ username: uniqueName(), password: "pw" }), "M_FORBIDDEN", 403);
    await expectMatrixError(anon.registerGuest(), "M_GUEST_ACCESS_FORBIDDEN", 403);
    expect(hs.serverName).toBe(`localhost:${hs.server.port}`);
    const wk = await fetchJson<{ "m.homeserver": { base_url: string } }>(hs.baseUrl, "/.well-known/matrix/client");
    expect(wk.body["m.homeserver"].base_url).toBe(hs.baseUrl);
  });

  it("applies the rate limits: credential endpoints answer 429 M_LIMIT_EXCEEDED", async () => {
    const anon = anonymousClient(hs.baseUrl);
    let limited: unknown;
    for (let i = 0; i < 10 && !limited; i++) {
      await anon.loginRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: "nobody" }, password: "x" }).catch((e: { errcode?: string }) => {
        if (e.errcode === "M_LIMIT_EXCEEDED") limited = e;
      });
    }
    const err = await expectMatrixError(Promise.reject(limited), "M_LIMIT_EXCEEDED", 429);
    expect(err.data.retry_after_ms).toBeGreaterThan(0);
  });
});

describe("a default server", () => {
  const hs = useServer();

  it("starts empty (fresh state per server) and open", async () => {
    const r = await fetchJson(hs.baseUrl, `/_matrix/client/v3/register/available?username=${uniqueName("fresh")}`);
    expect(r.body).toEqual({ available: true });
    expect(hs.server.startupMs).toBeGreaterThan(0);
  });

  it("registerClient({ crypto: true }) sets up matrix-js-sdk's Rust crypto in Node", async () => {
    const c = await registerClient(hs.baseUrl, uniqueName("crypto"), "pw", { crypto: true });
    const crypto = c.getCrypto();
    expect(crypto).toBeDefined();
    const keys = await crypto!.getOwnDeviceKeys();
    expect(keys.ed25519).toMatch(/^[A-Za-z0-9+/]{43}$/);
    expect(keys.curve25519).toMatch(/^[A-Za-z0-9+/]{43}$/);
  });
});
