// `npm start`: the homeserver on http://localhost:8008 with local D1, R2 and
// SQLite-backed Durable Objects persisted under .wrangler/state. D1 migrations
// run inside the Worker on first request; the signing key is generated then and kept.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { wranglerEnv } from "./wrangler-env.mjs";

const wranglerBin = createRequire(import.meta.url).resolve("wrangler/bin/wrangler.js");
const child = spawn(process.execPath, [wranglerBin, "dev", ...process.argv.slice(2)], { stdio: "inherit", env: wranglerEnv });
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code) => process.exit(code ?? 0));
