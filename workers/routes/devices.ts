import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { MatrixError, notFound } from "../../src/errors.js";
import type { AppEnv } from "../app-env.js";
import { deleteDevicesStatements } from "../auth/sessions.js";
import { notifyDeviceListChange, recordDeviceListChange } from "../e2ee/device-lists.js";
import { advanceStream, streamPosOf } from "../../services/stream.js";
import { type DeviceRow, deviceExists, listDevices, loadDevice, loadDeviceDisplayName, renameDeviceStatement } from "../../services/d1/devices.js";
import { endUiaSession, uiaBody, userInteractiveAuth } from "../auth/uia.js";
import { jsonBody } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { clientV3 } from "./paths.js";

function deviceJson(d: DeviceRow) {
  return {
    device_id: d.device_id,
    display_name: d.display_name ?? undefined,
    last_seen_ts: d.last_seen_ts ?? undefined,
    last_seen_ip: d.last_seen_ip ?? undefined,
  };
}

export const deviceRoutes = new Hono<AppEnv>();
deviceRoutes.use(clientV3("/devices/*"), requireAuth({ allowGuest: true }));
deviceRoutes.use(clientV3("/delete_devices"), requireAuth());

/** GET /_matrix/client/v3/devices (client-server-api "Device management") */
deviceRoutes.get(clientV3("/devices"), async (c) => {
  const devices = await listDevices(c.env.DB, c.get("auth").userId);
  return c.json({ devices: devices.map(deviceJson) });
});

/** GET /_matrix/client/v3/devices/{deviceId} */
deviceRoutes.get(clientV3("/devices/:deviceId"), async (c) => {
  const row = await loadDevice(c.env.DB, c.get("auth").userId, c.req.param("deviceId"));
  if (!row) throw notFound("Device not found");
  return c.json(deviceJson(row));
});

const RenameBody = z.object({ display_name: z.string().max(1024).optional() });

/** PUT /_matrix/client/v3/devices/{deviceId}: rename. */
deviceRoutes.put(clientV3("/devices/:deviceId"), jsonBody(RenameBody), async (c) => {
  const { userId } = c.get("auth");
  const body = c.req.valid("json");
  const deviceId = c.req.param("deviceId");
  const db = c.env.DB;
  const row = await loadDeviceDisplayName(db, userId, deviceId);
  if (!row) throw notFound("Device not found");
  if (body.display_name === undefined || body.display_name === row.display_name) return c.json({});
  // /keys/query shows the name (unsigned.device_display_name): a rename is a device-list
  // change, so everyone sharing a room re-queries (as Synapse notifies it).
  const results = await db.batch([advanceStream(db), renameDeviceStatement(db, userId, deviceId, body.display_name), recordDeviceListChange(db, userId)]);
  c.executionCtx.waitUntil(notifyDeviceListChange(c.env, userId, streamPosOf(results)));
  return c.json({});
});

/** /devices/* lets guests in; deleting one is not for them, and they hear so before any body problem. */
const refuseGuests: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.get("auth").isGuest) throw new MatrixError("M_GUEST_ACCESS_FORBIDDEN", "Guests cannot delete devices", 403);
  await next();
};

/** The first request usually has no body at all: UIA answers it with the flows. */
const DeleteDeviceBody = uiaBody({});

/** DELETE /_matrix/client/v3/devices/{deviceId}: UIA, then the device and its tokens are gone. */
deviceRoutes.delete(clientV3("/devices/:deviceId"), refuseGuests, jsonBody(DeleteDeviceBody, { allowEmpty: true }), async (c) => {
  const { userId } = c.get("auth");
  const deviceId = c.req.param("deviceId");
  const body = c.req.valid("json");
  if (!(await deviceExists(c.env.DB, userId, deviceId))) throw notFound("Device not found");
  const uia = await userInteractiveAuth(c, body.auth, { flows: [["m.login.password"]], userId });
  const results = await c.env.DB.batch(deleteDevicesStatements(c.env.DB, userId, [deviceId]));
  c.executionCtx.waitUntil(notifyDeviceListChange(c.env, userId, streamPosOf(results)));
  await endUiaSession(c.env.DB, uia.sessionId);
  return c.json({});
});

const DeleteDevicesBody = uiaBody({ devices: z.array(z.string()).max(1000) });

/** POST /_matrix/client/v3/delete_devices */
deviceRoutes.post(clientV3("/delete_devices"), jsonBody(DeleteDevicesBody), async (c) => {
  const { userId } = c.get("auth");
  const body = c.req.valid("json");
  const uia = await userInteractiveAuth(c, body.auth, { flows: [["m.login.password"]], userId });
  if (body.devices.length) {
    const results = await c.env.DB.batch(deleteDevicesStatements(c.env.DB, userId, body.devices));
    c.executionCtx.waitUntil(notifyDeviceListChange(c.env, userId, streamPosOf(results)));
  }
  await endUiaSession(c.env.DB, uia.sessionId);
  return c.json({});
});
