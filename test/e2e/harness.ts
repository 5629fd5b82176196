/**
 * End-to-end harness: the REAL homeserver driven by a real client (matrix-js-sdk).
 *
 * - `startServer(opts?)` (from server.mjs, shared with `npm run bench`) runs
 *   workers/index.ts with wrangler.toml in workerd via wrangler's
 *   `unstable_startWorker`: local D1/R2/Durable Objects persisted in a fresh temp
 *   dir, a free 127.0.0.1 port, vars REGISTRATION=open, ALLOW_GUESTS=true,
 *   SERVER_NAME=localhost:<port>, PUBLIC_BASEURL=<baseUrl>,
 *   REGISTRATION_SHARED_SECRET=E2E_SHARED_SECRET and rate limits far above any
 *   test's traffic (override any of these with `opts`). It answers a first
 *   request (migrations, signing key) before resolving: ~1.5 s. `stop()` disposes
 *   workerd and deletes the state. Set E2E_LOG_LEVEL=log to see the Worker's logs.
 * - `useServer(opts?)` in a describe/file: one fresh server for the file
 *   (beforeAll/afterAll), reached as `hs.baseUrl`, `hs.serverName`; clients made
 *   through this module are stopped before the server goes.
 * - `registerClient(baseUrl, username, password, opts?)`: the real /register UIA
 *   flow (401 → m.login.dummy stage) through the SDK's `registerRequest`, then a
 *   logged-in `MatrixClient` (not started: call `startClient()` yourself for sync).
 *   `loginClient(...)` does the same with /login (m.login.password).
 *   `opts.refreshToken` asks for a refresh token; `opts.crypto` runs
 *   `initRustCrypto({ useIndexedDB: false })`; `opts.clientOpts` reaches `createClient`.
 * - `register` / `login` return the raw credentials; `clientFor(baseUrl, creds)`
 *   makes a client from them; `fetchJson` is raw HTTP for edge cases the SDK hides;
 *   `uniqueName()` gives a fresh valid localpart; `waitFor` polls a condition.
 * - `expectMatrixError(promise, errcode, status?)` awaits an SDK call that must fail.
 *
 * Every request comes from 127.0.0.1, so all tests share one rate-limit bucket:
 * tests about limits should start their own server with small `rateLimits`.
 * SDK logging is at "warn" (E2E_SDK_LOG=debug for more).
 */
import { afterAll, beforeAll, expect } from "vitest";
import {
  ClientEvent,
  SyncState,
  createClient,
  MatrixError,
  type ICreateClientOpts,
  type LoginResponse,
  type MatrixClient,
  type RegisterResponse,
} from "matrix-js-sdk";
import type { Logger } from "matrix-js-sdk/lib/logger.js";
import { logger as sdkGlobalLogger } from "matrix-js-sdk/lib/logger.js";
import { startServer, type StartServerOptions, type TestServer } from "./server.mjs";

export { E2E_SHARED_SECRET, REPO_ROOT, startServer } from "./server.mjs";
export type { StartServerOptions, TestServer } from "./server.mjs";

// ---------------------------------------------------------------------------
// SDK logging

const LEVELS = ["trace", "debug", "info", "warn", "error"] as const;
type Level = (typeof LEVELS)[number];
const sdkLevel: Level = (LEVELS as readonly string[]).includes(process.env.E2E_SDK_LOG ?? "") ? (process.env.E2E_SDK_LOG as Level) : "warn";
(sdkGlobalLogger as unknown as { setLevel?: (l: string) => void }).setLevel?.(sdkLevel);

/** A console logger for matrix-js-sdk that drops lines below E2E_SDK_LOG (default "warn"). */
export function testLogger(prefix = "sdk"): Logger {
  const min = LEVELS.indexOf(sdkLevel);
  const at = (level: Level, fn: (...a: unknown[]) => void) =>
    LEVELS.indexOf(level) >= min
      ? (...msg: unknown[]) => {
          // Logged at error level on every M_UNKNOWN_TOKEN of a Matrix-native session (the SDK
          // only refreshes OAuth sessions); tests provoke that on purpose, so it is only noise.
          if (min > LEVELS.indexOf("debug") && typeof msg[0] === "string" && msg[0].startsWith("Unable to refresh token")) return;
          fn(`[${prefix}]`, ...msg);
        }
      : () => {};
  return {
    trace: at("trace", console.debug),
    debug: at("debug", console.debug),
    info: at("info", console.info),
    warn: at("warn", console.warn),
    error: at("error", console.error),
    getChild: (ns: string) => testLogger(`${prefix}${ns}`),
  };
}

// ---------------------------------------------------------------------------
// Server per test file

export interface ServerHandle {
  readonly baseUrl: string;
  readonly serverName: string;
  readonly server: TestServer;
}

/** Starts a fresh server for the enclosing file/describe (beforeAll) and stops it afterwards. */
export function useServer(opts?: StartServerOptions): ServerHandle {
  let server: TestServer | undefined;
  const get = () => {
    if (!server) throw new Error("useServer(): the server is not running (use it inside tests or hooks)");
    return server;
  };
  beforeAll(async () => {
    server = await startServer(opts);
  }, 120_000);
  afterAll(async () => {
    stopAllClients();
    await server?.stop();
  }, 60_000);
  return {
    get baseUrl() {
      return get().baseUrl;
    },
    get serverName() {
      return get().serverName;
    },
    get server() {
      return get();
    },
  };
}

// ---------------------------------------------------------------------------
// Clients

const clients = new Set<MatrixClient>();

/** Stops every client this module created (their sync loops, timers and crypto). */
export function stopAllClients(): void {
  for (const c of clients) c.stopClient();
  clients.clear();
}

export interface Credentials {
  userId: string;
  accessToken: string;
  deviceId: string;
  refreshToken?: string;
  expiresInMs?: number;
}

export interface SessionOptions {
  deviceId?: string;
  deviceName?: string;
  /** Ask for a refresh token (the access token then expires). */
  refreshToken?: boolean;
  /** Run initRustCrypto({ useIndexedDB: false }) on the new client. */
  crypto?: boolean;
  /** Extra createClient options (store, cryptoCallbacks, timelineSupport, ...). */
  clientOpts?: Partial<ICreateClientOpts>;
}

/** An unauthenticated client (for /register, /login, /versions...). */
export function anonymousClient(baseUrl: string, clientOpts: Partial<ICreateClientOpts> = {}): MatrixClient {
  const c = createClient({ baseUrl, logger: testLogger("anon"), ...clientOpts });
  clients.add(c);
  return c;
}

/** A client holding the given credentials. */
export function clientFor(baseUrl: string, creds: Credentials, clientOpts: Partial<ICreateClientOpts> = {}): MatrixClient {
  const c = createClient({
    baseUrl,
    userId: creds.userId,
    accessToken: creds.accessToken,
    deviceId: creds.deviceId,
    logger: testLogger(creds.userId),
    ...(creds.refreshToken ? { refreshToken: creds.refreshToken, onTokenRefresh: () => {} } : {}),
    ...clientOpts,
  });
  clients.add(c);
  return c;
}

function credentialsOf(r: RegisterResponse | LoginResponse): Credentials {
  if (!r.access_token || !r.device_id) throw new Error(`no access token in ${JSON.stringify(r)}`);
  return {
    userId: r.user_id,
    accessToken: r.access_token,
    deviceId: r.device_id,
    ...(r.refresh_token ? { refreshToken: r.refresh_token } : {}),
    ...(r.expires_in_ms !== undefined ? { expiresInMs: r.expires_in_ms } : {}),
  };
}

/**
 * Registers through the real UIA flow with the SDK: the first /register answers
 * 401 with a session and the m.login.dummy flow; the second completes it.
 */
export async function register(baseUrl: string, username: string, password: string, opts: SessionOptions = {}): Promise<Credentials> {
  const anon = anonymousClient(baseUrl);
  const body = {
    username,
    password,
    ...(opts.deviceId ? { device_id: opts.deviceId } : {}),
    ...(opts.deviceName ? { initial_device_display_name: opts.deviceName } : {}),
    ...(opts.refreshToken ? { refresh_token: true } : {}),
  };
  let session: string;
  try {
    await anon.registerRequest(body);
    throw new Error("/register completed without user-interactive auth");
  } catch (e) {
    if (!(e instanceof MatrixError) || e.httpStatus !== 401 || typeof e.data.session !== "string") throw e;
    const flows = e.data.flows as { stages: string[] }[] | undefined;
    if (!flows?.some((f) => f.stages.length === 1 && f.stages[0] === "m.login.dummy")) {
      throw new Error(`server offers no m.login.dummy flow: ${JSON.stringify(flows)}`);
    }
    session = e.data.session;
  }
  const done = await anon.registerRequest({ ...body, auth: { type: "m.login.dummy", session } });
  clients.delete(anon);
  return credentialsOf(done);
}

/** Logs in with m.login.password through the SDK's `loginRequest`. */
export async function login(baseUrl: string, username: string, password: string, opts: SessionOptions = {}): Promise<Credentials> {
  const anon = anonymousClient(baseUrl);
  const r = await anon.loginRequest({
    type: "m.login.password",
    identifier: { type: "m.id.user", user: username },
    password,
    ...(opts.deviceId ? { device_id: opts.deviceId } : {}),
    ...(opts.deviceName ? { initial_device_display_name: opts.deviceName } : {}),
    ...(opts.refreshToken ? { refresh_token: true } : {}),
  });
  clients.delete(anon);
  return credentialsOf(r);
}

async function sessionClient(baseUrl: string, creds: Credentials, opts: SessionOptions): Promise<MatrixClient> {
  const c = clientFor(baseUrl, creds, opts.clientOpts);
  if (opts.crypto) {
    await c.initRustCrypto({ useIndexedDB: false });
    // initRustCrypto starts a key-backup check in the background; let it settle so it
    // cannot outlive the test (joins the running check rather than adding one).
    await c.getCrypto()?.checkKeyBackupAndEnable();
  }
  return c;
}

/** Registers a new account (UIA dummy stage) and returns a logged-in, not yet started, MatrixClient. */
export async function registerClient(baseUrl: string, username: string, password: string, opts: SessionOptions = {}): Promise<MatrixClient> {
  return sessionClient(baseUrl, await register(baseUrl, username, password, opts), opts);
}

/** Logs an existing account in (new device unless opts.deviceId) and returns a not yet started MatrixClient. */
export async function loginClient(baseUrl: string, username: string, password: string, opts: SessionOptions = {}): Promise<MatrixClient> {
  return sessionClient(baseUrl, await login(baseUrl, username, password, opts), opts);
}

// ---------------------------------------------------------------------------
// Raw HTTP and small utilities

export interface FetchJsonInit {
  method?: string;
  /** JSON body (sets Content-Type). */
  json?: unknown;
  /** Raw body, when `json` is not used. */
  body?: string | Uint8Array;
  token?: string;
  headers?: Record<string, string>;
}

export interface JsonResponse<T> {
  status: number;
  body: T;
  headers: Headers;
}

/** Raw HTTP to the server (path with leading slash); the body is parsed as JSON when there is one. */
export async function fetchJson<T = Record<string, unknown>>(baseUrl: string, path: string, init: FetchJsonInit = {}): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  let body: string | Uint8Array | undefined = init.body;
  if (init.json !== undefined) {
    body = JSON.stringify(init.json);
    headers["Content-Type"] ??= "application/json";
  }
  const res = await fetch(`${baseUrl}${path}`, { method: init.method ?? (body === undefined ? "GET" : "POST"), headers, body });
  const text = await res.text();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

let nameCounter = 0;
/** A fresh, valid, lower-case localpart (unique within the process; servers are fresh per file anyway). */
export function uniqueName(prefix = "user"): string {
  return `${prefix}-${Date.now().toString(36)}-${(nameCounter++).toString(36)}`;
}

/** Polls `check` until it returns a truthy value (returned) or `timeoutMs` passes (throws). */
export async function waitFor<T>(check: () => T | Promise<T>, { timeoutMs = 10_000, intervalMs = 50, what = "condition" } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Awaits an SDK call that must fail with a MatrixError of the given errcode (and HTTP status). */
export async function expectMatrixError(p: Promise<unknown>, errcode: string, httpStatus?: number): Promise<MatrixError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${errcode}`).toBeInstanceOf(MatrixError);
  const err = caught as MatrixError;
  expect(err.errcode).toBe(errcode);
  if (httpStatus !== undefined) expect(err.httpStatus).toBe(httpStatus);
  return err;
}

/** Starts a client's sync loop (threads on) and resolves once its first sync is in. */
export async function startClientAndWait(client: MatrixClient, initialSyncLimit = 20): Promise<MatrixClient> {
  const ready = new Promise<void>((resolve) => {
    const onSync = (state: SyncState) => {
      if (state === SyncState.Prepared || state === SyncState.Syncing) {
        client.off(ClientEvent.Sync, onSync);
        resolve();
      }
    };
    client.on(ClientEvent.Sync, onSync);
  });
  await client.startClient({ initialSyncLimit, threadSupport: true });
  await ready;
  return client;
}
