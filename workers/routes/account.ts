import { Hono } from "hono";
import { z } from "zod";
import { MatrixError } from "../../src/errors.js";
import { hashPassword } from "../../src/password.js";
import { ROOM_VERSIONS } from "../../src/room-versions.js";
import type { AppEnv } from "../app-env.js";
import { deleteDevicesStatements, revokeOtherDevicesStatements } from "../auth/sessions.js";
import { endUiaSession, uiaBody, userInteractiveAuth } from "../auth/uia.js";
import { getConfig } from "../config.js";
import { deactivationE2eeStatements } from "../e2ee/device-cleanup.js";
import { notifyDeviceListChange } from "../e2ee/device-lists.js";
import { jsonBody } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { deactivatedProfileStatement } from "../../services/d1/profile.js";
import { deactivateUserStatement, setPasswordHashStatement } from "../../services/d1/users.js";
import { streamPosOf } from "../../services/stream.js";
import { clientV3 } from "./paths.js";

export const accountRoutes = new Hono<AppEnv>();

const PasswordBody = uiaBody({
  new_password: z.string(),
  logout_devices: z.boolean().optional(),
});

/** POST /_matrix/client/v3/account/password (UIA m.login.password) */
accountRoutes.post(clientV3("/account/password"), requireAuth(), jsonBody(PasswordBody), async (c) => {
  const { userId, deviceId } = c.get("auth");
  const config = getConfig(c.env);
  const body = c.req.valid("json");
  const uia = await userInteractiveAuth(c, body.auth, { flows: [["m.login.password"]], userId });
  if (body.new_password.length < config.passwordMinLength) {
    throw new MatrixError("M_WEAK_PASSWORD", `Password must be at least ${config.passwordMinLength} characters`, 400);
  }
  const db = c.env.DB;
  const update = setPasswordHashStatement(db, userId, await hashPassword(body.new_password));
  // Other devices are logged out unless the client asks otherwise (spec default: true).
  // The device statements go first: they start with advanceStream (device-list change).
  if (body.logout_devices !== false) {
    const results = await db.batch([...revokeOtherDevicesStatements(db, userId, deviceId), update]);
    c.executionCtx.waitUntil(notifyDeviceListChange(c.env, userId, streamPosOf(results)));
  } else {
    await update.run();
  }
  await endUiaSession(db, uia.sessionId);
  return c.json({});
});

const DeactivateBody = uiaBody({ erase: z.boolean().optional(), id_server: z.string().optional() });

/** POST /_matrix/client/v3/account/deactivate (UIA m.login.password; the first request may have no body) */
accountRoutes.post(clientV3("/account/deactivate"), requireAuth(), jsonBody(DeactivateBody, { allowEmpty: true }), async (c) => {
  const { userId } = c.get("auth");
  const body = c.req.valid("json");
  const uia = await userInteractiveAuth(c, body.auth, { flows: [["m.login.password"]], userId });
  const db = c.env.DB;
  const erase = body.erase === true;
  // Device statements first: they start with advanceStream (device-list change).
  const results = await db.batch([
    ...deleteDevicesStatements(db, userId),
    deactivateUserStatement(db, userId, erase),
    ...deactivationE2eeStatements(db, userId),
    deactivatedProfileStatement(db, userId, erase),
  ]);
  c.executionCtx.waitUntil(notifyDeviceListChange(c.env, userId, streamPosOf(results)));
  await endUiaSession(db, uia.sessionId);
  return c.json({ id_server_unbind_result: "no-support" });
});

/** GET /_matrix/client/v3/capabilities (client-server-api "Capabilities negotiation") */
accountRoutes.get(clientV3("/capabilities"), requireAuth({ allowGuest: true }), (c) =>
  c.json({
    capabilities: {
      "m.change_password": { enabled: true },
      "m.room_versions": {
        default: getConfig(c.env).defaultRoomVersion,
        available: Object.fromEntries([...ROOM_VERSIONS.values()].map((v) => [v.id, v.stable ? "stable" : "unstable"])),
      },
      "m.set_displayname": { enabled: true },
      "m.set_avatar_url": { enabled: true },
      "m.profile_fields": { enabled: true },
      "m.3pid_changes": { enabled: false },
      "m.get_login_token": { enabled: true },
    },
  }),
);

// Third-party identifiers: this server binds none (no email or SMS sending), so
// the endpoints answer with the spec's errors for that case.

const RequestTokenBody = z.looseObject({ client_secret: z.string(), send_attempt: z.number().int() });

/** GET /_matrix/client/v3/account/3pid */
accountRoutes.get(clientV3("/account/3pid"), requireAuth(), (c) => c.json({ threepids: [] }));

// One static route per medium: a parameter beside static siblings keeps Hono's RegExpRouter from taking the routes (workers/routes/paths.ts).
for (const medium of ["email", "msisdn"] as const) {
  /** POST /_matrix/client/v3/account/3pid/{email,msisdn}/requestToken */
  accountRoutes.post(clientV3(`/account/3pid/${medium}/requestToken`), requireAuth(), jsonBody(RequestTokenBody), () => {
    throw new MatrixError("M_THREEPID_MEDIUM_NOT_SUPPORTED", "This server does not verify third-party identifiers", 400);
  });

  /** POST /_matrix/client/v3/{register,account/password}/{email,msisdn}/requestToken (unauthenticated) */
  accountRoutes.post(clientV3(`/register/${medium}/requestToken`), jsonBody(RequestTokenBody), () => {
    throw new MatrixError("M_THREEPID_DENIED", "Third-party identifiers are not accepted at registration on this server", 403);
  });
  accountRoutes.post(clientV3(`/account/password/${medium}/requestToken`), jsonBody(RequestTokenBody), () => {
    throw new MatrixError("M_THREEPID_NOT_FOUND", "No account is associated with this third-party identifier", 400);
  });
}

const AddThreepidBody = uiaBody({ client_secret: z.string(), sid: z.string() });

/** POST /_matrix/client/v3/account/3pid/add (UIA): no validation session can exist here. */
accountRoutes.post(clientV3("/account/3pid/add"), requireAuth(), jsonBody(AddThreepidBody), async (c) => {
  const { userId } = c.get("auth");
  const uia = await userInteractiveAuth(c, c.req.valid("json").auth, { flows: [["m.login.password"]], userId });
  await endUiaSession(c.env.DB, uia.sessionId);
  throw new MatrixError("M_THREEPID_AUTH_FAILED", "No validated third-party identifier session with this sid", 400);
});

const BindThreepidBody = z.object({ client_secret: z.string(), id_server: z.string(), id_access_token: z.string(), sid: z.string() });

/** POST /_matrix/client/v3/account/3pid/bind */
accountRoutes.post(clientV3("/account/3pid/bind"), requireAuth(), jsonBody(BindThreepidBody), () => {
  throw new MatrixError("M_SERVER_NOT_TRUSTED", "This server does not bind identifiers on identity servers", 400);
});

const ThreepidBody = z.object({ medium: z.enum(["email", "msisdn"]), address: z.string(), id_server: z.string().optional() });

/** POST /_matrix/client/v3/account/3pid/{delete,unbind}: nothing is bound, so nothing to unbind. */
for (const op of ["delete", "unbind"] as const) {
  accountRoutes.post(clientV3(`/account/3pid/${op}`), requireAuth(), jsonBody(ThreepidBody), (c) => c.json({ id_server_unbind_result: "no-support" }));
}
