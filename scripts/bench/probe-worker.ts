/**
 * The bench's probe: the real Worker (workers/index.ts, same wrangler.toml
 * bindings and Durable Objects) with its D1 binding wrapped by countingD1, so
 * each response says what the Worker asked of D1 for it:
 *
 *   x-bench-d1-statements, x-bench-d1-rows-read, x-bench-d1-rows-written,
 *   x-bench-d1-queries (JSON: [{sql, rowsRead, rowsWritten}] for the first 40 statements, sql on one line, cut to 200 chars)
 *
 * Work the request hands to waitUntil() is awaited and counted before the response
 * is returned. Durable Objects' own D1 use is not counted (they get the plain env).
 * Only `npm run bench` starts this entry point; it is never deployed.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import handler from "../../workers/index.js";
import type { Env } from "../../services/env.js";
import { countingD1, newTally, type D1Tally } from "./d1-counter.js";

export { Federation, Room, User, Wake } from "../../workers/index.js";

const current = new AsyncLocalStorage<D1Tally>();
/** One wrapped env per real env, so per-isolate caches keyed on env or env.DB behave as in production. */
const wrappedEnvs = new WeakMap<Env, Env>();

function wrapEnv(env: Env): Env {
  let w = wrappedEnvs.get(env);
  if (!w) {
    w = { ...env, DB: countingD1(env.DB, () => current.getStore()) };
    wrappedEnvs.set(env, w);
  }
  return w;
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
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
