import type { Unstable_DevWorker } from "wrangler";

export declare const REPO_ROOT: string;
export declare const E2E_SHARED_SECRET: string;

export interface RateLimit {
  limit: number;
  /** Seconds: 10 or 60, as the Workers Rate Limiting binding allows. */
  period: 10 | 60;
}

export interface StartServerOptions {
  /** Extra or overriding wrangler vars (defaults: REGISTRATION=open, ALLOW_GUESTS=true, SERVER_NAME=localhost:<port>, PUBLIC_BASEURL=<baseUrl>). */
  vars?: Record<string, string>;
  /** REGISTRATION_SHARED_SECRET (default E2E_SHARED_SECRET). */
  sharedSecret?: string;
  /** Per-IP budgets; default far above what tests use. All e2e traffic comes from one address. */
  rateLimits?: Partial<Record<"RL_REQUESTS" | "RL_AUTH", RateLimit>>;
  /** Default `localhost:<port>`. */
  serverName?: string;
  /**
   * Another Worker entry point with the same bindings (default: wrangler.toml's `main`, workers/index.ts).
   * Under `npm run coverage`, a test-only entry named `test/e2e/*-worker.ts` runs from the instrumented copy.
   */
  entrypoint?: string;
  /** Fixed port (default: a free one). */
  port?: number;
  /** State directory (default: a fresh temp dir, removed on stop()). */
  persistDir?: string;
  /** Keep the temp state directory after stop() (for post-mortems). */
  keepState?: boolean;
  /** wrangler/workerd log level (default $E2E_LOG_LEVEL or "error"). */
  logLevel?: "debug" | "info" | "log" | "warn" | "error" | "none";
}

export interface TestServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  baseUrl: string;
  /** The Worker itself, past wrangler dev's proxy (the bench measures here); baseUrl if it could not be found. */
  directUrl: string;
  /** The server name in user ids: `@alice:<serverName>`. */
  serverName: string;
  port: number;
  persistDir: string;
  sharedSecret: string;
  /** Wall time from the call until the server answered its first request. */
  startupMs: number;
  /** wrangler's worker handle (fetch, dispose, raw DevEnv). */
  worker: Awaited<ReturnType<typeof import("wrangler").unstable_startWorker>>;
  /** Disposes workerd and removes the temp state directory; idempotent. */
  stop(): Promise<void>;
}

export declare function freePort(): Promise<number>;
export declare function startServer(opts?: StartServerOptions): Promise<TestServer>;

export type { Unstable_DevWorker };
