// `npm start`: the homeserver on http://localhost:8008 with local D1, R2 and
// SQLite-backed Durable Objects persisted under .wrangler/state. D1 migrations
// run inside the Worker on first request; the signing key is generated then and kept.
// A local REGISTRATION_SHARED_SECRET is made once in .dev.vars (git-ignored) so
// `npm run register-admin` can create the first admin.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { wranglerEnv } from "./wrangler-env.mjs";

const devVars = new URL("../.dev.vars", import.meta.url);
const current = existsSync(devVars) ? readFileSync(devVars, "utf8") : "";
if (!/^REGISTRATION_SHARED_SECRET=/m.test(current)) {
  writeFileSync(devVars, `${current}${current && !current.endsWith("\n") ? "\n" : ""}REGISTRATION_SHARED_SECRET=${randomBytes(32).toString("hex")}\n`);
}

const wranglerBin = createRequire(import.meta.url).resolve("wrangler/bin/wrangler.js");
const child = spawn(process.execPath, [wranglerBin, "dev", ...process.argv.slice(2)], { stdio: "inherit", env: wranglerEnv });
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code) => process.exit(code ?? 0));
