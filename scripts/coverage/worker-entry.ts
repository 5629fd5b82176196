/**
 * The coverage build's entry point: the real Worker (workers/index.ts, same
 * wrangler.toml bindings and Durable Objects) plus one extra route,
 * `GET /_coverage/istanbul`, answering the isolate's istanbul counters
 * (`globalThis.__coverage__`). Only `npm run coverage` runs this, after
 * scripts/coverage/build-worker.mjs has instrumented a copy of the sources; it is
 * never deployed and production code has no coverage hooks. The test harness
 * (test/e2e/server.mjs) reads the route just before it stops each server.
 */
import handler from "../../workers/index.js";
import type { Env } from "../../services/env.js";

export { Federation, Room, User, Wake } from "../../workers/index.js";

const COVERAGE_PATH = "/_coverage/istanbul";

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    if (request.method === "GET" && new URL(request.url).pathname === COVERAGE_PATH) {
      // Durable Objects run in this same isolate under workerd, so their counters are here too.
      return Response.json((globalThis as { __coverage__?: unknown }).__coverage__ ?? {});
    }
    return handler.fetch(request, env, ctx);
  },
  scheduled: handler.scheduled,
} satisfies ExportedHandler<Env>;
