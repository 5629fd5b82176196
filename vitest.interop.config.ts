// `npm run interop:synapse`: this server federating with a real Synapse on this machine
// (../shared/synapse, started with --federation). Not part of `npm test`: it needs that
// Synapse, root for its chroot, and TLS material outside the repo. See test/interop/.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "interop",
    include: ["test/interop/**/*.test.ts"],
    environment: "node",
    setupFiles: ["test/e2e/setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
