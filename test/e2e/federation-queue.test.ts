/**
 * The Federation Durable Object's outbound queue, for real: the server under test
 * (workers/index.ts behind test/e2e/federation-queue-worker.ts, which only adds
 * routes calling the object's RPC methods) sends signed transactions over HTTP to
 * fake remote servers on 127.0.0.1 (./fake-destination.ts) that record them and
 * fail as told (500, connection closed after the body, no answer), then recover.
 *
 * Two servers: `fast` retries after 250 ms (doubling up to 4 s) for the failure
 * and recovery paths; `slow` backs off for a minute, so what happens during a
 * backoff (enqueue waits, retryNow, caps, EDU expiry) can be seen.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeDestination, fakeEdu, fakePdu, originOf, type Received } from "./fake-destination.js";
import { REPO_ROOT, startServer, type TestServer } from "./server.mjs";
import { signingKeyFromSeed } from "../../src/signing.js";
import type { DestinationStatus } from "../../services/federation-api.js";
import { signRequest } from "../../src/x-matrix.js";

const ENTRY = join(REPO_ROOT, "test/e2e/federation-queue-worker.ts");

type Status = DestinationStatus;

type Item = ReturnType<typeof fakePdu>;
type EduItem = ReturnType<typeof fakeEdu>;

async function call(hs: TestServer, method: string, route: string, params: Record<string, string>, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${hs.baseUrl}/__test/federation/${route}?${new URLSearchParams(params)}`, {
    method,
    ...(body !== undefined ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } } : {}),
  });
  return { status: res.status, body: await res.json() };
}

async function enqueue(hs: TestServer, dest: FakeDestination, items: { pdus?: Item[]; edus?: EduItem[] }): Promise<void> {
  const r = await call(hs, "POST", "enqueue", { destination: dest.name }, items);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
}

async function status(hs: TestServer, dest: FakeDestination): Promise<Status> {
  const r = await call(hs, "GET", "status", { destination: dest.name });
  expect(r.status).toBe(200);
  return r.body as Status;
}

async function retryNow(hs: TestServer, dest: FakeDestination): Promise<void> {
  expect((await call(hs, "POST", "retry", { destination: dest.name })).status).toBe(200);
}

type Truthy<T> = Exclude<T, false | null | undefined | 0 | "">;

async function until<T>(what: string, check: () => T | Promise<T>, timeoutMs = 15_000): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as Truthy<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 40));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const idsOf = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const pdus = (prefix: string, n: number, from = 0, roomId?: string) => Array.from({ length: n }, (_, i) => fakePdu(`${prefix}${from + i}`, from + i, roomId));
const edus = (prefix: string, n: number, from = 0, type?: string) => Array.from({ length: n }, (_, i) => fakeEdu(`${prefix}${from + i}`, from + i, type));
/** Every id processed exactly once. */
function expectOnce(ids: string[], expected: string[]) {
  expect([...ids].sort()).toEqual([...expected].sort());
  expect(new Set(ids).size).toBe(ids.length);
}
/** A resent transaction is the same request: same txnId, same body. */
function expectSameTxn(a: Received, b: Received) {
  expect(b.txnId).toBe(a.txnId);
  expect(b.body).toEqual(a.body);
}

const fastDests: Record<string, FakeDestination> = {};
const slowDests: Record<string, FakeDestination> = {};
let fast: TestServer;
let slow: TestServer;

beforeAll(async () => {
  for (const k of ["order", "interleaved", "dedupe", "many", "recovery", "lost", "refused", "binding"]) fastDests[k] = await new FakeDestination().start();
  for (const k of ["backoff", "seen", "cap", "expiry"]) slowDests[k] = await new FakeDestination().start();
  const common = { FEDERATION_ALLOW: "127.0.0.1", FEDERATION_TIMEOUT_MS: "1500" };
  fast = await startServer({
    entrypoint: ENTRY,
    vars: {
      ...common,
      FEDERATION_PLAINTEXT: Object.values(fastDests).map((d) => d.name).join(","),
      FEDERATION_RETRY_BASE_MS: "250",
      FEDERATION_RETRY_MAX_MS: "4000",
    },
  });
  slow = await startServer({
    entrypoint: ENTRY,
    vars: {
      ...common,
      FEDERATION_PLAINTEXT: Object.values(slowDests).map((d) => d.name).join(","),
      FEDERATION_RETRY_BASE_MS: "60000",
      FEDERATION_QUEUE_MAX_PDUS: "20",
      FEDERATION_QUEUE_MAX_EDUS: "30",
      FEDERATION_EDU_MAX_AGE_MS: "1000",
    },
  });
  const fastOrigin = await originOf(fast.baseUrl, fast.serverName);
  const slowOrigin = await originOf(slow.baseUrl, slow.serverName);
  for (const d of Object.values(fastDests)) d.origin = fastOrigin;
  for (const d of Object.values(slowDests)) d.origin = slowOrigin;
}, 120_000);

afterAll(async () => {
  await Promise.all([fast?.stop(), slow?.stop()]);
  await Promise.all([...Object.values(fastDests), ...Object.values(slowDests)].map((d) => d.close()));
});

describe("transactions", () => {
  it("sends in queue order, at most 50 PDUs and 100 EDUs a transaction, signed by the server", async () => {
    const d = fastDests.order!;
    const before = Date.now();
    // One enqueue: its PDUs, then its EDUs, queued at once, so the cuts are predictable.
    await enqueue(fast, d, { pdus: pdus("p", 130), edus: edus("e", 230) });
    await until("everything delivered", () => d.appliedEduIds().length === 230);
    const txns = d.received;
    expect(txns.map((t) => [t.body.pdus.length, t.body.edus.length])).toEqual([
      [50, 0],
      [50, 0],
      [30, 100],
      [0, 100],
      [0, 30],
    ]);
    expect(d.appliedPduIds()).toEqual(idsOf("p", 130));
    expect(d.appliedEduIds()).toEqual(idsOf("e", 230));
    expect(new Set(txns.map((t) => t.txnId)).size).toBe(5);
    for (const t of txns) {
      expect(t.signed).toBe(true);
      expect(t.behaviour).toBe("ok");
      expect(t.body.origin).toBe(fast.serverName);
      expect(t.body.origin_server_ts).toBeGreaterThanOrEqual(before);
      expect(t.path).toBe(`/_matrix/federation/v1/send/${encodeURIComponent(t.txnId)}`);
    }
    // Each PDU goes out as it was queued.
    expect(txns[0]!.body.pdus[7]).toEqual(pdus("p", 1, 7)[0]!.pdu);
    const s = await status(fast, d);
    expect(s).toMatchObject({ destination: d.name, pendingPdus: 0, pendingEdus: 0, failures: 0, retryAtTs: null, lastError: null, droppedPdus: 0, droppedEdus: 0 });
    expect(s.lastSuccessTs).toBeGreaterThanOrEqual(before);
  });

  it("keeps the order of many enqueues while transactions are in flight", async () => {
    const d = fastDests.interleaved!;
    let n = 0;
    const expectedPdus: string[] = [];
    const expectedEdus: string[] = [];
    for (let round = 0; round < 12; round++) {
      const p = pdus("p", 9, n);
      n += 9;
      const e = edus("e", 17, n);
      n += 17;
      expectedPdus.push(...p.map((x) => x.pdu.content.id));
      expectedEdus.push(...e.map((x) => x.content.id));
      await enqueue(fast, d, { pdus: p, edus: e });
    }
    await until("everything delivered", () => d.appliedEduIds().length === expectedEdus.length && d.appliedPduIds().length === expectedPdus.length);
    expect(d.appliedPduIds()).toEqual(expectedPdus);
    expect(d.appliedEduIds()).toEqual(expectedEdus);
    // Order across transactions: everything in one transaction was queued before anything in the next.
    let last = -1;
    for (const t of d.received) {
      expect(t.body.pdus.length).toBeLessThanOrEqual(50);
      expect(t.body.edus.length).toBeLessThanOrEqual(100);
      const ns = [...t.body.pdus.map((p) => p.content.n), ...t.body.edus.map((e) => e.content.n)];
      expect(Math.min(...ns)).toBeGreaterThan(last);
      last = Math.max(...ns);
    }
  });

  it("ignores an event id that is already queued or already sent", async () => {
    const d = fastDests.dedupe!;
    d.otherwise = "500";
    const [x, y, z] = pdus("d", 3);
    await enqueue(fast, d, { pdus: [x!, y!] });
    await until("a failed attempt", async () => (await status(fast, d)).failures >= 1);
    await enqueue(fast, d, { pdus: [y!, z!, z!] });
    expect((await status(fast, d)).pendingPdus).toBe(3);
    d.otherwise = "ok";
    await retryNow(fast, d);
    await until("delivered", async () => (await status(fast, d)).pendingPdus === 0);
    const sent = d.received.length;
    await enqueue(fast, d, { pdus: [x!, z!] });
    expect((await status(fast, d)).pendingPdus).toBe(0);
    await sleep(500);
    expect(d.received.length).toBe(sent);
    expectOnce(d.appliedPduIds(), ["d0", "d1", "d2"]);
  });

  it("remembers the latest 5,000 event ids sent, not more", async () => {
    const d = fastDests.many!;
    for (let i = 0; i < 6100; i += 1000) await enqueue(fast, d, { pdus: pdus("m", Math.min(1000, 6100 - i), i) });
    await until("6,100 PDUs delivered", () => d.appliedPduIds().length === 6100, 60_000);
    expect(d.appliedPduIds()).toEqual(idsOf("m", 6100));
    expect(d.received).toHaveLength(122);
    // Trimmed in steps: past 6,000 the oldest 1,000 were forgotten, so m0 goes out again; m1000 does not.
    await enqueue(fast, d, { pdus: [...pdus("m", 1, 1000), ...pdus("m", 1, 0), ...pdus("m", 1, 6099)] });
    await until("the resend", async () => (await status(fast, d)).pendingPdus === 0 && d.received.length === 123);
    await sleep(300);
    expect(d.received.slice(122).map((r) => r.body.pdus.map((p) => p.content.id))).toEqual([["m0"]]);
  }, 90_000);

  it("backs off on failures (500, closed connection, no answer, an answer cut short) and then delivers everything exactly once", async () => {
    const d = fastDests.recovery!;
    d.script = ["500", "500", "close", "hang", "stall"];
    const t0 = Date.now();
    await enqueue(fast, d, { pdus: pdus("r", 70), edus: edus("re", 20) });
    const s1 = await until("a failed attempt", async () => {
      const s = await status(fast, d);
      return s.failures >= 1 && s;
    });
    expect(s1.lastError).toMatch(/500/);
    expect(s1.retryAtTs).toBeGreaterThan(t0);
    expect(s1.pendingPdus).toBe(70);
    expect(s1.pendingEdus).toBe(20);
    // Queued during the failures: sent after the first transaction, in order.
    await enqueue(fast, d, { pdus: pdus("r", 40, 70), edus: edus("re", 5, 20) });
    await until("everything delivered", () => d.appliedPduIds().length === 110 && d.appliedEduIds().length === 25, 20_000);
    expect(d.received.map((r) => r.behaviour).slice(0, 6)).toEqual(["500", "500", "close", "hang", "stall", "ok"]);
    // The first six requests are one transaction, sent again unchanged; the "close" one was
    // processed by the receiver, so its resends were dropped there as duplicates.
    for (const r of d.received.slice(1, 6)) expectSameTxn(d.received[0]!, r);
    expect(d.received[0]!.body.pdus).toHaveLength(50);
    // The backoff doubles: at least 250, 500, 1000 ms between attempts (each stretched by up
    // to a quarter), then the 1.5 s timeout of the unanswered one and 2000 ms, then the
    // timeout of the one cut short and 4000 ms (the cap).
    const at = d.received.map((r) => r.at);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(245);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(495);
    expect(at[3]! - at[2]!).toBeGreaterThanOrEqual(995);
    expect(at[4]! - at[3]!).toBeGreaterThanOrEqual(1500 + 1995);
    expect(at[5]! - at[4]!).toBeGreaterThanOrEqual(1500 + 3995);
    expectOnce(d.appliedPduIds(), idsOf("r", 110));
    expect(d.appliedPduIds()).toEqual(idsOf("r", 110));
    expect(d.appliedEduIds()).toEqual(idsOf("re", 25));
    const s = await status(fast, d);
    expect(s).toMatchObject({ pendingPdus: 0, pendingEdus: 0, failures: 0, retryAtTs: null, lastError: null });
    expect(s.lastSuccessTs).toBeGreaterThan(at[5]! - 1000);
  }, 40_000);

  it("sends the same txnId with the same contents when the answer was lost after the remote read the request", async () => {
    const d = fastDests.lost!;
    d.script = ["close"];
    await enqueue(fast, d, { pdus: pdus("l", 3), edus: edus("le", 2) });
    await until("the first attempt", () => d.received.length >= 1);
    // Queued after the transaction started: not part of it, even on its resend.
    await enqueue(fast, d, { pdus: pdus("l", 1, 3) });
    await until("delivered", async () => (await status(fast, d)).pendingPdus === 0);
    expect(d.received.map((r) => r.behaviour)).toEqual(["close", "ok", "ok"]);
    expectSameTxn(d.received[0]!, d.received[1]!);
    expect(d.received[1]!.body.pdus.map((p) => p.content.id)).toEqual(["l0", "l1", "l2"]);
    expect(d.received[2]!.txnId).not.toBe(d.received[0]!.txnId);
    expect(d.received[2]!.body.pdus.map((p) => p.content.id)).toEqual(["l3"]);
    expectOnce(d.appliedPduIds(), idsOf("l", 4));
    expectOnce(d.appliedEduIds(), idsOf("le", 2));
  });

  it("logs PDUs the remote refuses in its answer and does not send them again", async () => {
    const d = fastDests.refused!;
    d.refuse.add("x1");
    await enqueue(fast, d, { pdus: pdus("x", 3) });
    await until("delivered", async () => (await status(fast, d)).lastSuccessTs !== null);
    await sleep(400);
    expect(d.received).toHaveLength(1);
    expect(await status(fast, d)).toMatchObject({ pendingPdus: 0, failures: 0 });
  });

  it("is bound to one destination", async () => {
    const d = fastDests.binding!;
    expect((await call(fast, "GET", "destination", { destination: d.name })).body).toEqual({ destination: null });
    expect((await status(fast, d)).destination).toBeNull();
    await enqueue(fast, d, {});
    expect((await call(fast, "GET", "destination", { destination: d.name })).body).toEqual({ destination: d.name });
    const other = await call(fast, "POST", "enqueue", { destination: "other.example", object: d.name }, { pdus: pdus("b", 1) });
    expect(other.status).toBe(500);
    expect(other.body.error).toMatch(/this queue is for/);
    const bad = await call(fast, "POST", "enqueue", { destination: "not a server name" }, { pdus: pdus("b", 1) });
    expect(bad.body.error).toMatch(/not a server name/);
    const self = await call(fast, "POST", "enqueue", { destination: fast.serverName }, { pdus: pdus("b", 1) });
    expect(self.body.error).toMatch(/itself/);
    expect(await status(fast, d)).toMatchObject({ destination: d.name, pendingPdus: 0, retryAtTs: null });
    expect(d.received).toHaveLength(0);
  });
});

describe("during a long backoff", () => {
  it("waits out the backoff when more is queued, and retryNow() sends at once", async () => {
    const d = slowDests.backoff!;
    d.otherwise = "500";
    const t0 = Date.now();
    await enqueue(slow, d, { pdus: pdus("b", 2) });
    const s = await until("a failed attempt", async () => {
      const s = await status(slow, d);
      return s.failures === 1 && s;
    });
    expect(s.retryAtTs).toBeGreaterThanOrEqual(t0 + 60_000);
    expect(s.retryAtTs).toBeLessThanOrEqual(Date.now() + 75_000);
    expect(s.lastError).toMatch(/FederationRequestFailed.*500/);
    await enqueue(slow, d, { pdus: pdus("b", 2, 2), edus: edus("be", 1, 0, "m.direct_to_device") });
    await sleep(700);
    expect(d.received).toHaveLength(1);
    expect(await status(slow, d)).toMatchObject({ pendingPdus: 4, pendingEdus: 1, failures: 1, retryAtTs: s.retryAtTs });
    d.otherwise = "ok";
    await retryNow(slow, d);
    await until("delivered", async () => (await status(slow, d)).pendingPdus === 0);
    expect(d.received.map((r) => r.body.pdus.map((p) => p.content.id))).toEqual([["b0", "b1"], ["b0", "b1"], ["b2", "b3"]]);
    expectSameTxn(d.received[0]!, d.received[1]!);
    expect(await status(slow, d)).toMatchObject({ pendingPdus: 0, pendingEdus: 0, failures: 0, retryAtTs: null, lastError: null });
  });

  it("ends the backoff when the destination makes an authenticated request to us", async () => {
    const d = slowDests.seen!;
    d.key = signingKeyFromSeed(new Uint8Array(32).fill(31), "seen");
    d.otherwise = "500";
    await enqueue(slow, d, { pdus: pdus("s", 2) });
    const s = await until("a failed attempt", async () => {
      const s = await status(slow, d);
      return s.failures === 1 && s;
    });
    expect(s.retryAtTs).toBeGreaterThanOrEqual(Date.now() + 30_000);
    d.otherwise = "ok";
    // Any request the destination signs shows it is up again (its answer does not matter).
    const uri = `/_matrix/federation/v1/query/profile?user_id=${encodeURIComponent(`@nobody:${slow.serverName}`)}`;
    const authorization = signRequest({ method: "GET", uri, origin: d.name, destination: slow.serverName }, d.key.keyId, d.key.seed);
    const res = await fetch(`${slow.baseUrl}${uri}`, { headers: { authorization } });
    expect(res.status).toBe(404);
    // Well before the 60 s backoff would have ended.
    await until("delivered", async () => (await status(slow, d)).pendingPdus === 0);
    expect(d.appliedPduIds()).toEqual(["s0", "s1"]);
  });

  it("drops the oldest PDUs and EDUs over the caps and records the rooms for a catch-up", async () => {
    const d = slowDests.cap!;
    d.otherwise = "500";
    await enqueue(slow, d, { pdus: pdus("c", 1, 0, "!one:example.org") });
    await until("a failed attempt", async () => (await status(slow, d)).failures === 1);
    // 1 in flight + 30 more, cap 20: the 11 oldest not in flight go (c1..c11: both rooms).
    await enqueue(slow, d, { pdus: [...pdus("c", 10, 1, "!one:example.org"), ...pdus("c", 20, 11, "!two:example.org")] });
    await enqueue(slow, d, { edus: edus("ce", 40, 0, "m.direct_to_device") });
    expect(await status(slow, d)).toMatchObject({ pendingPdus: 20, droppedPdus: 11, catchUpRooms: 2, pendingEdus: 30, droppedEdus: 10 });
    // A dropped event queued again stays dropped.
    await enqueue(slow, d, { pdus: pdus("c", 1, 1, "!one:example.org") });
    expect((await status(slow, d)).pendingPdus).toBe(20);
    d.otherwise = "ok";
    await retryNow(slow, d);
    await until("delivered", async () => (await status(slow, d)).pendingEdus === 0);
    expect(d.appliedPduIds()).toEqual(["c0", ...idsOf("c", 31).slice(12)]);
    expect(d.appliedEduIds()).toEqual(idsOf("ce", 40).slice(10));
    // Room two's later events got through (the receiver fills the gap behind them); room one's
    // catch-up asked its Room DO for our newest event there: no such room on this server, nothing to send.
    await until("catch-up done", async () => (await status(slow, d)).catchUpRooms === 0);
    expect(await status(slow, d)).toMatchObject({ pendingPdus: 0, failures: 0, droppedPdus: 11 });
  });

  it("drops EDUs past their age (typing, receipts) but keeps to-device messages", async () => {
    const d = slowDests.expiry!;
    d.otherwise = "500";
    await enqueue(slow, d, { pdus: pdus("y", 1) });
    await until("a failed attempt", async () => (await status(slow, d)).failures === 1);
    await enqueue(slow, d, { edus: [fakeEdu("typing", 0, "m.typing"), fakeEdu("receipt", 1, "m.receipt"), fakeEdu("keys", 2, "m.direct_to_device")] });
    expect((await status(slow, d)).pendingEdus).toBe(3);
    await sleep(1200); // FEDERATION_EDU_MAX_AGE_MS is 1 s on this server
    d.otherwise = "ok";
    await retryNow(slow, d);
    await until("delivered", async () => {
      const s = await status(slow, d);
      return s.pendingPdus === 0 && s.pendingEdus === 0;
    });
    expect(d.appliedPduIds()).toEqual(["y0"]);
    expect(d.appliedEduIds()).toEqual(["keys"]);
    expect((await status(slow, d)).droppedEdus).toBe(2);
  });
});
