/**
 * Memory of a 50 MB upload/download round trip through the real server in
 * workerd (as `npm start` runs it): the workerd process's resident set
 * (VmRSS) and peak (VmHWM) from /proc before and after, printed for the record.
 * Both directions stream: the client never holds the body either. The bound
 * asserted is loose (local R2 is simulated inside the same workerd process);
 * the printed figures are the measurement.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./server.mjs";

const SIZE = Number(process.env.MEDIA_MEMORY_MB ?? 50) * 1024 * 1024 - 1024; // default: just under m.upload.size
const CHUNK = 1024 * 1024;
let hs: TestServer;
let token: string;

/** workerd processes started below this test process. */
function workerdPids(): number[] {
  const out = execFileSync("ps", ["-eo", "pid=,ppid=,comm="], { encoding: "utf8" });
  const rows = out
    .trim()
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .map(([pid, ppid, comm]) => ({ pid: Number(pid), ppid: Number(ppid), comm: comm ?? "" }));
  const mine = new Set([process.pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const r of rows) if (mine.has(r.ppid) && !mine.has(r.pid)) (mine.add(r.pid), (grew = true));
  }
  return rows.filter((r) => mine.has(r.pid) && r.comm.startsWith("workerd")).map((r) => r.pid);
}

function memKb(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { rss: field("VmRSS"), hwm: field("VmHWM") };
}

const mb = (kb: number) => Math.round(kb / 1024);

beforeAll(async () => {
  hs = await startServer();
  const body = { username: `mem${Date.now().toString(36)}`, password: "correct horse battery staple" };
  const first = await fetch(`${hs.baseUrl}/_matrix/client/v3/register`, { method: "POST", body: JSON.stringify(body) });
  const { session } = (await first.json()) as { session: string };
  const done = await fetch(`${hs.baseUrl}/_matrix/client/v3/register`, { method: "POST", body: JSON.stringify({ ...body, auth: { type: "m.login.dummy", session } }) });
  token = ((await done.json()) as { access_token: string }).access_token;
}, 60_000);

afterAll(async () => {
  await hs?.stop();
});

/** A body generated on the fly, never held whole. */
function generated(size: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(ctrl) {
      if (sent >= size) return ctrl.close();
      const n = Math.min(CHUNK, size - sent);
      const chunk = new Uint8Array(n);
      for (let i = 0; i < n; i += 4096) chunk[i] = ((sent + i) >> 12) & 255;
      sent += n;
      ctrl.enqueue(chunk);
    },
  });
}

async function roundTrip(label: string, withLength: boolean): Promise<void> {
  const pids = workerdPids();
  // Two workerd processes: wrangler's proxy and, started after it, the one running the Worker.
  const pid = Math.max(...pids);
  expect(pid, "workerd process").toBeDefined();
  const before = memKb(pid!);
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" };
  if (withLength) headers["content-length"] = String(SIZE);
  const t0 = performance.now();
  const up = await fetch(`${hs.baseUrl}/_matrix/media/v3/upload?filename=big.bin`, { method: "POST", headers, body: generated(SIZE), duplex: "half" } as RequestInit);
  const upText = await up.text();
  if (up.status === 503 && upText.includes("restarted mid-request")) {
    // wrangler's dev runtime reloads when files under it change (other work in the same checkout): not ours to measure.
    console.log(`[media-memory] ${label}: the dev runtime reloaded mid-upload; measuring again`);
    return roundTrip(label, withLength);
  }
  if (up.status !== 200) console.log(`[media-memory] upload failed: ${up.status} ${upText.slice(0, 500)}`);
  const { content_uri } = JSON.parse(upText) as { content_uri: string };
  expect(up.status).toBe(200);
  const afterUpload = memKb(pid!);
  const t1 = performance.now();
  const down = await fetch(`${hs.baseUrl}/_matrix/client/v1/media/download/${content_uri.slice(6)}`, { headers: { authorization: `Bearer ${token}` } });
  expect(down.status).toBe(200);
  let received = 0;
  let checksum = 0;
  for await (const chunk of down.body as unknown as AsyncIterable<Uint8Array>) {
    for (let i = (4096 - (received % 4096)) % 4096; i < chunk.length; i += 4096) checksum += chunk[i]!;
    received += chunk.length;
  }
  const t2 = performance.now();
  const after = memKb(pid!);
  expect(received).toBe(SIZE);
  let want = 0;
  for (let off = 0; off < SIZE; off += 4096) want += (off >> 12) & 255;
  expect(checksum).toBe(want);
  console.log(
    `[media-memory] ${label}: workerd RSS ${mb(before.rss)} MB before, ${mb(afterUpload.rss)} MB after upload (${Math.round(t1 - t0)} ms), ` +
      `${mb(after.rss)} MB after download (${Math.round(t2 - t1)} ms); peak (VmHWM) ${mb(before.hwm)} → ${mb(after.hwm)} MB`,
  );
  // Buffering the body anywhere in the Worker would add at least its 50 MB to the peak, twice over for a copy.
  expect(mb(after.hwm - before.hwm)).toBeLessThan(100);
}

describe("50 MB media round trip", () => {
  it("streams an upload with Content-Length and its download (three times: growth must not add up)", async () => {
    for (let i = 1; i <= 3; i++) await roundTrip(`with Content-Length #${i}`, true);
  }, 120_000);

  it("streams a chunked upload (R2 multipart) and its download", async () => {
    await roundTrip("chunked", false);
  }, 120_000);
});
