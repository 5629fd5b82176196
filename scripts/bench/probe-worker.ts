/**
 * The bench's probe: the real Worker (workers/index.ts, same wrangler.toml
 * bindings and Durable Objects) with its D1 binding wrapped by countingD1, so
 * each response says what the Worker asked of D1 for it:
 *
 *   x-bench-d1-statements, x-bench-d1-rows-read, x-bench-d1-rows-written,
 *   x-bench-d1-queries (JSON: [{sql, rowsRead, rowsWritten}] for the first 40 statements, sql on one line, cut to 200 chars)
 *
 * Work the request hands to waitUntil() is awaited and counted before the response
 * is returned. Durable Objects' own D1 use is not in these headers.
 *
 * Beside them, everything the server does is metered for the `cost` section
 * (scripts/bench/cost-meter.ts: Worker and Durable Object requests, active time,
 * D1 and SQLite rows, R2 operations): `GET /__bench/cost` reads the totals,
 * `POST /__bench/cost/reset` starts over.
 * Only `npm run bench` starts this entry point; it is never deployed.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import handler from "../../workers/index.js";
import type { Env } from "../../services/env.js";
import { countingD1, newTally, type D1Tally } from "./d1-counter.js";

import { Federation as RealFederation, Room as RealRoom, User as RealUser, Wake as RealWake } from "../../workers/index.js";
import { costs, countWorkerRequest, meteredDurableObject, meteredEnv, resetCosts } from "./cost-meter.js";

export const Room = meteredDurableObject(RealRoom, "Room");
export const User = meteredDurableObject(RealUser, "User");
export const Wake = meteredDurableObject(RealWake, "Wake");
export const Federation = meteredDurableObject(RealFederation, "Federation");

const current = new AsyncLocalStorage<D1Tally>();
/** One wrapped env per real env, so per-isolate caches keyed on env or env.DB behave as in production. */
const wrappedEnvs = new WeakMap<Env, Env>();

function wrapEnv(env: Env): Env {
  let w = wrappedEnvs.get(env);
  if (!w) {
    const metered = meteredEnv(env);
    w = { ...metered, DB: countingD1(metered.DB, () => current.getStore()) };
    wrappedEnvs.set(env, w);
  }
  return w;
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === "/__bench/cost") return Response.json(costs());
    if (path === "/__bench/cost/reset" && request.method === "POST") {
      resetCosts();
      return new Response(null, { status: 204 });
    }
    countWorkerRequest();
    const tally = newTally();
    const pending: Promise<unknown>[] = [];
    const probeCtx = new Proxy(ctx, {
      get(target, prop) {
        if (prop === "waitUntil") return (p: Promise<unknown>) => pending.push(p);
        const v = Reflect.get(target, prop) as unknown;
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const res = await current.run(tally, () => handler.fetch(request, wrapEnv(env), probeCtx));
    await Promise.allSettled(pending);
    const out = new Response(res.body, res);
    out.headers.set("x-bench-d1-statements", String(tally.statements));
    out.headers.set("x-bench-d1-rows-read", String(tally.rowsRead));
    out.headers.set("x-bench-d1-rows-written", String(tally.rowsWritten));
    // Response headers are capped (workerd refuses very large ones): list at most the first 40 statements.
    out.headers.set("x-bench-d1-queries", JSON.stringify(tally.queries.slice(0, 40).map((q) => ({ ...q, sql: q.sql.replace(/\s+/g, " ").slice(0, 200) }))));
    return out;
  },
} satisfies ExportedHandler<Env>;
