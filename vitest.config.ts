import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// No telemetry or outside calls from wrangler/miniflare during tests.
process.env.WRANGLER_SEND_METRICS ??= "false";
process.env.WRANGLER_HIDE_BANNER ??= "true";
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false";

export default defineConfig({
  test: {
    projects: [
      {
        // Pure protocol core in plain Node: no Workers APIs.
        test: { name: "unit", include: ["test/unit/**/*.test.ts"], environment: "node" },
      },
      {
        // The real Worker and Durable Objects in workerd, storage isolated per file.
        plugins: [
          // D1 migrations are applied by the Worker itself on first request (workers/d1-migrate.ts).
          cloudflareTest({
            main: "./workers/index.ts",
            wrangler: { configPath: "./wrangler.toml" },
            // Smaller per-IP budgets so tests can reach the limits quickly.
            miniflare: {
              ratelimits: {
                RL_REQUESTS: { simple: { limit: 120, period: 60 } },
                RL_AUTH: { simple: { limit: 10, period: 60 } },
              },
            },
          }),
        ],
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          testTimeout: 30_000,
        },
      },
    ],
  },
});
