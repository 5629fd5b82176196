import { Hono } from "hono";
import type { AppEnv } from "./app-env.js";
import { ensureMigrated } from "./d1-migrate.js";
import { onError } from "./middleware/errors.js";
import { makeNotFoundHandler } from "./middleware/method-not-allowed.js";
import { routingPath } from "./routes/paths.js";
import { clientIp, enforceRateLimit } from "./middleware/rate-limit.js";
import { accountRoutes } from "./routes/account.js";
import { accountDataRoutes } from "./routes/account-data.js";
import { presenceRoutes } from "./routes/presence.js";
import { readMarkerRoutes } from "./routes/read-markers.js";
import { receiptRoutes } from "./routes/receipts.js";
import { tagRoutes } from "./routes/tags.js";
import { typingRoutes } from "./routes/typing.js";
import { deviceRoutes } from "./routes/devices.js";
import { eventContextRoutes } from "./routes/event-context.js";
import { federationMediaRoutes } from "./routes/federation-media.js";
import { federationRoomRoutes } from "./routes/federation-rooms.js";
import { federationTimestampRoutes } from "./routes/federation-timestamp-to-event.js";
import { federationVersionRoutes } from "./routes/federation-version.js";
import { joinedRoomsRoutes } from "./routes/joined-rooms.js";
import { keyBackupRoutes } from "./routes/key-backup.js";
import { keyRoutes } from "./routes/keys.js";
import { loginRoutes } from "./routes/login.js";
import { mediaRoutes } from "./routes/media.js";
import { profileRoutes } from "./routes/profile.js";
import { pushRuleRoutes } from "./routes/push-rules.js";
import { pusherRoutes } from "./routes/pushers.js";
import { notificationRoutes } from "./routes/notifications.js";
import { searchRoutes } from "./routes/search.js";
import { userDirectoryRoutes } from "./routes/user-directory.js";
import { registerRoutes } from "./routes/register.js";
import { relationRoutes } from "./routes/relations.js";
import { roomEventRoutes } from "./routes/room-events.js";
import { openIdRoutes } from "./routes/openid.js";
import { roomInitialSyncRoutes } from "./routes/room-initial-sync.js";
import { voipThirdPartyRoutes } from "./routes/voip-thirdparty.js";
import { roomRoutes } from "./routes/rooms.js";
import { syncRoutes } from "./routes/sync.js";
import { slidingSyncRoutes } from "./routes/sliding-sync.js";
import { synapseAdminRoutes } from "./routes/synapse-admin.js";
import { threadRoutes } from "./routes/threads.js";
import { toDeviceRoutes } from "./routes/to-device.js";
import { serverKeyRoutes } from "./routes/server-keys.js";
import { versionsRoutes } from "./routes/versions.js";
import { wellKnownRoutes } from "./routes/well-known.js";
import { aliasRoutes } from "./routes/aliases.js";
import { publicRoomRoutes } from "./routes/public-rooms.js";
import { reportRoutes } from "./routes/reports.js";
import { roomSummaryRoutes } from "./routes/room-summary.js";
import { roomUpgradeRoutes } from "./routes/room-upgrade.js";
import { spaceHierarchyRoutes } from "./routes/space-hierarchy.js";

/** Must match `simple.period` of RL_REQUESTS in wrangler.toml. */
const REQUESTS_PERIOD_MS = 60_000;

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>({ getPath: routingPath });

  app.use("*", async (c, next) => {
    c.set("requestId", c.req.header("cf-ray") ?? crypto.randomUUID());
    await enforceRateLimit(c.env.RL_REQUESTS, `ip:${clientIp(c.req.raw)}`, REQUESTS_PERIOD_MS);
    await ensureMigrated(c.env.DB);
    await next();
  });

  app.route("/", versionsRoutes);
  app.route("/", wellKnownRoutes);
  app.route("/", federationVersionRoutes);
  app.route("/", serverKeyRoutes);
  app.route("/", registerRoutes);
  app.route("/", loginRoutes);
  app.route("/", deviceRoutes);
  app.route("/", accountRoutes);
  app.route("/", profileRoutes);
  app.route("/", synapseAdminRoutes);
  app.route("/", keyRoutes);
  app.route("/", toDeviceRoutes);
  app.route("/", keyBackupRoutes);
  app.route("/", mediaRoutes);
  app.route("/", federationMediaRoutes);
  app.route("/", federationRoomRoutes);
  app.route("/", federationTimestampRoutes);
  app.route("/", roomRoutes);
  app.route("/", roomInitialSyncRoutes);
  app.route("/", openIdRoutes);
  app.route("/", voipThirdPartyRoutes);
  app.route("/", syncRoutes);
  app.route("/", slidingSyncRoutes);
  app.route("/", roomEventRoutes);
  app.route("/", eventContextRoutes);
  app.route("/", joinedRoomsRoutes);
  app.route("/", relationRoutes);
  app.route("/", threadRoutes);
  app.route("/", aliasRoutes);
  app.route("/", publicRoomRoutes);
  app.route("/", roomSummaryRoutes);
  app.route("/", spaceHierarchyRoutes);
  app.route("/", roomUpgradeRoutes);
  app.route("/", reportRoutes);

  app.route("/", typingRoutes);
  app.route("/", receiptRoutes);
  app.route("/", readMarkerRoutes);
  app.route("/", presenceRoutes);
  app.route("/", accountDataRoutes);
  app.route("/", tagRoutes);

  app.route("/", pushRuleRoutes);
  app.route("/", pusherRoutes);
  app.route("/", notificationRoutes);
  app.route("/", searchRoutes);
  app.route("/", userDirectoryRoutes);

  app.onError(onError);
  app.notFound(makeNotFoundHandler(() => app.routes));
  return app;
}
