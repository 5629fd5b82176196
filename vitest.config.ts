import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig, type TestProjectInlineConfiguration } from "vitest/config";

// No telemetry or outside calls from wrangler/miniflare during tests.
process.env.WRANGLER_SEND_METRICS ??= "false";
process.env.WRANGLER_HIDE_BANNER ??= "true";
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false";

export const TEST_SHARED_SECRET = "test-shared-secret";

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
          bindings: { REGISTRATION_SHARED_SECRET: TEST_SHARED_SECRET, FEDERATION_DOH_URL: "", ...vars },
          // Smaller per-IP budgets so tests can reach the limits quickly.
          ratelimits: {
            RL_REQUESTS: { simple: { limit: 400, period: 60 } },
            RL_AUTH: { simple: { limit: 60, period: 60 } },
          },
        },
      }),
    ],
    test: { name, include, testTimeout: 30_000 },
  };
}

export default defineConfig({
  test: {
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
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Each file starts its own workerd; one at a time keeps 2-core CI machines responsive.
          fileParallelism: false,
        },
      },
    ],
  },
});
