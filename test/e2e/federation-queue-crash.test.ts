/**
 * The outbound federation queue when the server dies mid-send: the server's
 * workerd is killed (SIGKILL) while a transaction is in flight (the fake remote
 * has read it and not answered), then started again on the same state. The
 * transaction's id and rows were written before the request, so the next attempt
 * (the interrupted alarm, which the runtime runs again, or the one the object armed
 * before the request) sends the same transaction — same txnId, same contents — and
 * the remote, which dedupes by txnId, applies it once.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { workerdChildren } from "./workerd-children.js";
import { afterAll, expect, it } from "vitest";
import { FakeDestination, fakeEdu, fakePdu, originOf } from "./fake-destination.js";
import { REPO_ROOT, freePort, startServer, type TestServer } from "./server.mjs";

const ENTRY = join(REPO_ROOT, "test/e2e/federation-queue-worker.ts");

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const persistDir = mkdtempSync(join(tmpdir(), "edge-matrix-fedqueue-"));
let server: TestServer | undefined;
let dest: FakeDestination | undefined;

afterAll(async () => {
  await server?.stop().catch(() => undefined);
  await dest?.close();
  rmSync(persistDir, { recursive: true, force: true });
});

it("sends the same transaction again after the process was killed during the request", async () => {
  dest = await new FakeDestination().start();
  dest.script = ["hang"];
  const port = await freePort();
  const opts = {
    entrypoint: ENTRY,
    persistDir,
    port,
    keepState: true,
    // A one-minute backoff: only the alarm armed before the request can bring the resend this soon.
    vars: { FEDERATION_ALLOW: "127.0.0.1", FEDERATION_PLAINTEXT: dest.name, FEDERATION_TIMEOUT_MS: "1000", FEDERATION_RETRY_BASE_MS: "60000" },
  };
  server = await startServer(opts);
  dest.origin = await originOf(server.baseUrl, server.serverName);
  const q = new URLSearchParams({ destination: dest.name });
  const res = await fetch(`${server.baseUrl}/__test/federation/enqueue?${q}`, {
    method: "POST",
    body: JSON.stringify({ pdus: [fakePdu("k0", 0), fakePdu("k1", 1), fakePdu("k2", 2)], edus: [fakeEdu("k-keys", 3, "m.direct_to_device")] }),
  });
  expect(res.status).toBe(200);
  await until("the first attempt", () => dest!.received.length === 1, 10_000);

  const pids = workerdChildren();
  expect(pids.length).toBeGreaterThan(0);
  for (const pid of pids) process.kill(pid, "SIGKILL");
  await Promise.race([server.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 5000))]);

  server = await startServer(opts);
  // No enqueue, no retryNow: only an alarm brings the resend.
  await until("the resend", () => dest!.received.length === 2, 30_000);
  const [first, second] = dest.received;
  expect(second!.behaviour).toBe("ok");
  expect(second!.signed).toBe(true);
  expect(second!.txnId).toBe(first!.txnId);
  expect(second!.body).toEqual(first!.body);
  expect(dest.appliedPduIds()).toEqual(["k0", "k1", "k2"]);
  expect(dest.appliedEduIds()).toEqual(["k-keys"]);
  const status = (await (await fetch(`${server.baseUrl}/__test/federation/status?${q}`)).json()) as Record<string, unknown>;
  expect(status).toMatchObject({ pendingPdus: 0, pendingEdus: 0, failures: 0, lastError: null });
}, 90_000);
