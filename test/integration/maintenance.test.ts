/**
 * The cron trigger's housekeeping (workers/maintenance.ts), run through the
 * Worker's real `scheduled` handler against real D1 and R2.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env as workerEnv } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { originalKey, thumbnailKey } from "../../r2/keys.js";
import { getMedia, insertUploadedMedia } from "../../r2/media-store.js";
import type { Env } from "../../services/env.js";
import worker from "../../workers/index.js";
import { runMaintenance } from "../../workers/maintenance.js";
import { call } from "./helpers.js";

const env = workerEnv as unknown as Env;
const DAY = 24 * 60 * 60 * 1000;

const objectKeys = new Map<string, string>();

async function media(id: string, userId: string | null, uploadedTs: number): Promise<void> {
  const objectKey = originalKey(id);
  objectKeys.set(id, objectKey);
  await env.MEDIA.put(objectKey, new Uint8Array([1, 2, 3]));
  await env.MEDIA.put(thumbnailKey(id, "32x32-crop"), new Uint8Array([4]));
  await insertUploadedMedia(env.DB, userId, { mediaId: id, objectKey, contentType: "image/png", uploadName: null, size: 3 }, uploadedTs);
}

describe("scheduled maintenance", () => {
  it("deletes old preview images with their thumbnails, keeps recent ones and every user upload; drops expired caches", async () => {
    await call("/_matrix/client/versions"); // migrations
    const now = Date.now();
    await media("oldpreview", null, now - 8 * DAY);
    await media("newpreview", null, now - 1 * DAY);
    await media("olduserupload", "@alice:localhost:8008", now - 400 * DAY);
    await env.DB.batch([
      env.DB.prepare("INSERT INTO url_previews (url, og, fetched_ts, expires_ts) VALUES ('https://a.example/', '{}', ?, ?)").bind(now - 2 * DAY, now - DAY),
      env.DB.prepare("INSERT INTO url_previews (url, og, fetched_ts, expires_ts) VALUES ('https://b.example/', '{}', ?, ?)").bind(now, now + DAY),
      env.DB.prepare("INSERT INTO federation_destinations (server_name, host, port, host_header, expires_ts) VALUES ('gone.example', 'gone.example', 8448, 'gone.example', ?)").bind(now - 1),
      env.DB.prepare("INSERT INTO federation_destinations (server_name, host, port, host_header, expires_ts) VALUES ('kept.example', 'kept.example', 8448, 'kept.example', ?)").bind(now + DAY),
    ]);

    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: now, cron: "17 * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);

    expect(await getMedia(env.DB, "oldpreview")).toBeNull();
    expect((await env.MEDIA.list({ prefix: "" })).objects.map((o) => o.key).filter((k) => k.includes("oldpreview"))).toEqual([]);
    expect(await getMedia(env.DB, "newpreview")).not.toBeNull();
    expect(await getMedia(env.DB, "olduserupload")).not.toBeNull();
    expect(await env.MEDIA.head(objectKeys.get("olduserupload")!)).not.toBeNull();
    expect(await env.MEDIA.head(thumbnailKey("newpreview", "32x32-crop"))).not.toBeNull();
    const urls = await env.DB.prepare("SELECT url FROM url_previews ORDER BY url").all<{ url: string }>();
    expect(urls.results.map((r) => r.url)).toEqual(["https://b.example/"]);
    const dests = await env.DB.prepare("SELECT server_name FROM federation_destinations").all<{ server_name: string }>();
    expect(dests.results.map((r) => r.server_name)).toEqual(["kept.example"]);

    // Nothing left to do: a second pass deletes nothing.
    expect(await runMaintenance(env, now)).toEqual({ previewImagesDeleted: 0, previewAnswersDeleted: 0, destinationsDeleted: 0 });
  });
});
