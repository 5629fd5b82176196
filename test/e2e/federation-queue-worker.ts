/**
 * A test-only entry point for the outbound federation tests
 * (test/e2e/federation-queue*.test.ts): the real Worker (workers/index.ts, same
 * wrangler.toml bindings and Durable Objects, through the coverage entry, whose
 * one extra route answers `{}` outside `npm run coverage`) plus routes that reach
 * the Federation Durable Object's RPC methods, which nothing in the Worker calls
 * from HTTP:
 *
 *   POST /__test/federation/enqueue?destination=D[&object=O]  body {pdus?, edus?}
 *        → env.FEDERATION.getByName(O ?? D).enqueue(D, body)
 *   GET  /__test/federation/status?destination=D   → status()
 *   POST /__test/federation/retry?destination=D    → retryNow()
 *
 * An RPC error is answered 500 `{error}`. Only the e2e tests start this entry
 * (startServer's `entrypoint`); it is never deployed.
 */
import handler from "../../scripts/coverage/worker-entry.js";
import type { Env } from "../../services/env.js";

export { Federation, Room, User, Wake } from "../../workers/index.js";

const PREFIX = "/__test/federation/";

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    if (!url.pathname.startsWith(PREFIX)) return handler.fetch(request, env, ctx);
    const destination = url.searchParams.get("destination") ?? "";
    const stub = env.FEDERATION.getByName(url.searchParams.get("object") ?? destination);
    try {
      switch (`${request.method} ${url.pathname.slice(PREFIX.length)}`) {
        case "POST enqueue":
          await stub.enqueue(destination, await request.json());
          return Response.json({});
        case "GET status":
          return Response.json(await stub.status());
        case "GET destination":
          return Response.json({ destination: await stub.destination() });
        case "POST retry":
          await stub.retryNow();
          return Response.json({});
        default:
          return Response.json({ error: "no such test route" }, { status: 404 });
      }
    } catch (e) {
      return Response.json({ error: (e as Error).message }, { status: 500 });
    }
  },
  scheduled: handler.scheduled,
} satisfies ExportedHandler<Env>;
