import { createApp } from "./app.js";
import { ensureMigrated } from "./d1-migrate.js";
import { runMaintenance } from "./maintenance.js";
import type { Env } from "../services/env.js";
import { preflightResponse, withCors } from "./middleware/cors.js";

export { Federation } from "../durable-objects/federation/federation.js";
export { Room } from "../durable-objects/room/room.js";
export { User } from "../durable-objects/user/user.js";
export { Wake } from "../durable-objects/wake/wake.js";

const app = createApp();

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    // Preflight is answered before any endpoint logic runs (client-server-api "Web Browser Clients").
    if (request.method === "OPTIONS") return preflightResponse();
    return withCors(await app.fetch(request, env, ctx));
  },

  /** The hourly cron trigger: housekeeping (workers/maintenance.ts). */
  async scheduled(_controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
    ctx.waitUntil(
      (async () => {
        await ensureMigrated(env.DB);
        const report = await runMaintenance(env);
        console.log(JSON.stringify({ maintenance: report }));
      })(),
    );
  },
} satisfies ExportedHandler<Env>;
