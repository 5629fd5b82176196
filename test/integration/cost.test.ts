// D1 cost of authentication, as D1 reports it (meta.rows_read), measured with the
// counting wrapper the bench's probe Worker uses (scripts/bench/d1-counter.ts).
// Every authenticated request pays this, so it must stay one indexed query.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env as poolEnv } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { countingD1, newTally, type D1Tally } from "../../scripts/bench/d1-counter.js";
import { createApp } from "../../workers/app.js";
import { authenticateToken } from "../../workers/auth/sessions.js";
import type { Env } from "../../services/env.js";
import { BASE, login, registerUser } from "./helpers.js";

const env = poolEnv as unknown as Env;
let tally: D1Tally | undefined;
const countedEnv: Env = { ...env, DB: countingD1(env.DB, () => tally) };
const app = createApp();

async function measure<T>(fn: () => Promise<T>): Promise<{ result: T; tally: D1Tally }> {
  tally = newTally();
  try {
    return { result: await fn(), tally };
  } finally {
    tally = undefined;
  }
}

/** A request through the real app with the counting D1 binding; waitUntil work is included. */
async function appRequest(path: string, token: string): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`${BASE}${path}`, { headers: { Authorization: `Bearer ${token}`, "cf-connecting-ip": "10.9.9.9" } }), countedEnv, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

describe("D1 cost of authentication", () => {
  it("authenticateToken is one statement reading at most 3 rows, however many users and tokens exist", async () => {
    const u = await registerUser();
    // More users, devices and tokens: an index miss would show as rows read growing with them.
    for (let i = 0; i < 12; i++) {
      const other = await registerUser();
      await login(other.userId, other.password);
    }
    const { result, tally: t } = await measure(() => authenticateToken(countingD1(env.DB, () => tally), u.accessToken));
    expect(result.userId).toBe(u.userId);
    expect(t.statements).toBe(1);
    expect(t.rowsRead).toBeGreaterThan(0);
    expect(t.rowsRead).toBeLessThanOrEqual(3);
    expect(t.rowsWritten).toBe(0);

    // An unknown token costs no more.
    const miss = await measure(() => authenticateToken(countingD1(env.DB, () => tally), "mat_unknown").catch(() => null));
    expect(miss.tally.statements).toBe(1);
    expect(miss.tally.rowsRead).toBeLessThanOrEqual(1);
  });

  it("whoami and capabilities through the app: the auth query and nothing else", async () => {
    const u = await registerUser();
    await appRequest("/_matrix/client/v3/account/whoami", u.accessToken); // warm: this env's one-time migration check
    for (const path of ["/_matrix/client/v3/account/whoami", "/_matrix/client/v3/capabilities"]) {
      const { result, tally: t } = await measure(() => appRequest(path, u.accessToken));
      expect(result.status, path).toBe(200);
      expect(t.statements, path).toBe(1);
      expect(t.rowsRead, path).toBeLessThanOrEqual(3);
      expect(t.rowsWritten, path).toBe(0);
    }
  });
});
