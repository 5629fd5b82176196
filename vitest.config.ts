import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig, type TestProjectInlineConfiguration } from "vitest/config";

// No telemetry or outside calls from wrangler/miniflare during tests.
process.env.WRANGLER_SEND_METRICS ??= "false";
process.env.WRANGLER_HIDE_BANNER ??= "true";
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false";

export const TEST_SHARED_SECRET = "test-shared-secret";

// `npm run coverage` sets COVERAGE=1: instrumenting every module on first import makes a
// file's first test far slower, so timeouts grow there (and only there).
const SLOW = process.env.COVERAGE ? 4 : 1;

/**
 * The real Worker and Durable Objects in workerd, storage isolated per test file.
 * Server policy (registration mode, guests, terms) is configuration, so each policy
 * under test is its own project with its own vars.
 */
function workersProject(name: string, include: string[], vars: Record<string, string>): TestProjectInlineConfiguration {
  return {
    plugins: [
      // D1 migrations are applied by the Worker itself on first request (workers/d1-migrate.ts).
      cloudflareTest({
        main: "./workers/index.ts",
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          // No DNS-over-HTTPS for federation: server names in tests never leave the machine.
          // Rooms default to the spec's recommended version 12 here (the shipped default is 10: test/e2e/server.mjs says why).
          bindings: { REGISTRATION_SHARED_SECRET: TEST_SHARED_SECRET, FEDERATION_DOH_URL: "", DEFAULT_ROOM_VERSION: "12", ...vars },
          // Smaller per-IP budgets so tests can reach the limits quickly.
          ratelimits: {
            RL_REQUESTS: { simple: { limit: 400, period: 60 } },
            RL_AUTH: { simple: { limit: 60, period: 60 } },
          },
        },
      }),
    ],
    test: { name, include, testTimeout: 30_000 * SLOW },
  };
}

export default defineConfig({
  test: {
    // Off unless asked for (`npm run coverage`, scripts/coverage/run.mjs). Istanbul, not V8:
    // it instruments at transform time, so it also counts code running inside workerd.
    coverage: {
      provider: "istanbul",
      include: ["src/**/*.ts", "services/**/*.ts", "workers/**/*.ts", "durable-objects/**/*.ts", "r2/**/*.ts"],
      exclude: ["test/**", "scripts/**", "d1-migrations/migrations.generated.ts", "**/*.d.ts"],
      reporter: ["json"],
      // The figures are wanted even when a test fails (the run still exits non-zero).
      reportOnFailure: true,
      reportsDirectory: "coverage/vitest",
    },
    projects: [
      {
        // Pure protocol core in plain Node: no Workers APIs.
        test: { name: "unit", include: ["test/unit/**/*.test.ts"], environment: "node" },
      },
      workersProject("integration", ["test/integration/*.test.ts"], { REGISTRATION: "open", ALLOW_GUESTS: "true" }),
      workersProject("integration-token-registration", ["test/integration/policy-token/*.test.ts"], {
        REGISTRATION: "token",
        ALLOW_GUESTS: "false",
        PASSWORD_MIN_LENGTH: "8",
        EXCLUSIVE_USER_NAMESPACES: "^@irc_.*",
        TERMS_POLICIES: JSON.stringify({
          privacy_policy: { version: "1.0", en: { name: "Privacy Policy", url: "https://example.org/privacy" } },
        }),
      }),
      workersProject("integration-closed-registration", ["test/integration/policy-closed/*.test.ts"], { REGISTRATION: "closed" }),
      {
        // The real server (wrangler unstable_startWorker, workerd on a loopback port, fresh
        // state per file) driven by matrix-js-sdk in Node. See test/e2e/harness.ts.
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          setupFiles: ["test/e2e/setup.ts"],
          testTimeout: 60_000 * SLOW,
          hookTimeout: 120_000 * SLOW,
          // Each file starts its own workerd; one at a time keeps 2-core CI machines responsive.
          fileParallelism: false,
        },
      },
    ],
  },
});
