import { Hono } from "hono";
import { z } from "zod";
import { MatrixError, notFound } from "../../src/errors.js";
import type { AppEnv } from "../app-env.js";
import { deleteDevicesStatements } from "../auth/sessions.js";
import { notifyDeviceListChange, recordDeviceListChange } from "../e2ee/device-lists.js";
import { advanceStream, streamPosOf } from "../../services/stream.js";
import { endUiaSession, userInteractiveAuth } from "../auth/uia.js";
import { describeZodError, readJson, readJsonObject } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { clientV3 } from "./paths.js";

interface DeviceRow {
  device_id: string;
  display_name: string | null;
  last_seen_ts: number | null;
  last_seen_ip: string | null;
}

function deviceJson(d: DeviceRow) {
  return {
    device_id: d.device_id,
    display_name: d.display_name ?? undefined,
    last_seen_ts: d.last_seen_ts ?? undefined,
    last_seen_ip: d.last_seen_ip ?? undefined,
  };
}

const DEVICE_COLUMNS = "device_id, display_name, last_seen_ts, last_seen_ip";

export const deviceRoutes = new Hono<AppEnv>();
deviceRoutes.use(clientV3("/devices/*"), requireAuth({ allowGuest: true }));
deviceRoutes.use(clientV3("/delete_devices"), requireAuth());

/** GET /_matrix/client/v3/devices (client-server-api "Device management") */
deviceRoutes.get(clientV3("/devices"), async (c) => {
  const { userId } = c.get("auth");
  const { results } = await c.env.DB.prepare(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = ? ORDER BY created_ts`)
    .bind(userId)
    .all<DeviceRow>();
  return c.json({ devices: results.map(deviceJson) });
});

/** GET /_matrix/client/v3/devices/{deviceId} */
deviceRoutes.get(clientV3("/devices/:deviceId"), async (c) => {
  const { userId } = c.get("auth");
  const row = await c.env.DB.prepare(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = ? AND device_id = ?`)
    .bind(userId, c.req.param("deviceId"))
    .first<DeviceRow>();
  if (!row) throw notFound("Device not found");
  return c.json(deviceJson(row));
});

/** PUT /_matrix/client/v3/devices/{deviceId}: rename. */
deviceRoutes.put(clientV3("/devices/:deviceId"), async (c) => {
  const { userId } = c.get("auth");
  const body = await readJson(c, z.object({ display_name: z.string().max(1024).optional() }));
  const deviceId = c.req.param("deviceId");
  const db = c.env.DB;
  const row = await db.prepare("SELECT display_name FROM devices WHERE user_id = ? AND device_id = ?").bind(userId, deviceId).first<{ display_name: string | null }>();
  if (!row) throw notFound("Device not found");
  if (body.display_name === undefined || body.display_name === row.display_name) return c.json({});
  // /keys/query shows the name (unsigned.device_display_name): a rename is a device-list
  // change, so everyone sharing a room re-queries (as Synapse notifies it).
  const results = await db.batch([
    advanceStream(db),
    db.prepare("UPDATE devices SET display_name = ? WHERE user_id = ? AND device_id = ?").bind(body.display_name, userId, deviceId),
    recordDeviceListChange(db, userId),
  ]);
  c.executionCtx.waitUntil(notifyDeviceListChange(c.env, userId, streamPosOf(results)));
  return c.json({});
});

/** DELETE /_matrix/client/v3/devices/{deviceId}: UIA, then the device and its tokens are gone. */
deviceRoutes.delete(clientV3("/devices/:deviceId"), async (c) => {
  const { userId, isGuest } = c.get("auth");
  if (isGuest) throw new MatrixError("M_GUEST_ACCESS_FORBIDDEN", "Guests cannot delete devices", 403);
  const deviceId = c.req.param("deviceId");
  const body = await readJsonObject(c, { allowEmpty: true });
  const exists = await c.env.DB.prepare("SELECT 1 AS x FROM devices WHERE user_id = ? AND device_id = ?").bind(userId, deviceId).first();
  if (!exists) throw notFound("Device not found");
  const uia = await userInteractiveAuth(c, body, { flows: [["m.login.password"]], userId });
  const results = await c.env.DB.batch(deleteDevicesStatements(c.env.DB, userId, [deviceId]));
  c.executionCtx.waitUntil(notifyDeviceListChange(c.env, userId, streamPosOf(results)));
  await endUiaSession(c.env.DB, uia.sessionId);
  return c.json({});
});

const DeleteDevicesBody = z.object({ devices: z.array(z.string()).max(1000) });

/** POST /_matrix/client/v3/delete_devices */
deviceRoutes.post(clientV3("/delete_devices"), async (c) => {
  const { userId } = c.get("auth");
  const raw = await readJsonObject(c);
  const parsed = DeleteDevicesBody.safeParse(raw);
  if (!parsed.success) throw new MatrixError("M_BAD_JSON", describeZodError(parsed.error), 400);
  const uia = await userInteractiveAuth(c, raw, { flows: [["m.login.password"]], userId });
  if (parsed.data.devices.length) {
    const results = await c.env.DB.batch(deleteDevicesStatements(c.env.DB, userId, parsed.data.devices));
    c.executionCtx.waitUntil(notifyDeviceListChange(c.env, userId, streamPosOf(results)));
  }
  await endUiaSession(c.env.DB, uia.sessionId);
  return c.json({});
});
