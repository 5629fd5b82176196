// Creates a user through Synapse's shared-secret registration API
// (/_synapse/admin/v1/register), exactly as Synapse's register_new_matrix_user does.
//
//   npm run register-admin -- <username> <password> [--no-admin] [--url http://localhost:8008]
//
// The secret comes from $REGISTRATION_SHARED_SECRET, or from .dev.vars for the local server.
import { createHmac } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";

const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  if (i === -1) return undefined;
  const [, value] = args.splice(i, 2);
  return value;
};
const url = (flag("--url") ?? "http://localhost:8008").replace(/\/+$/, "");
const noAdmin = args.includes("--no-admin");
const [username, password] = args.filter((a) => !a.startsWith("--"));
if (!username || !password) {
  console.error("usage: npm run register-admin -- <username> <password> [--no-admin] [--url URL]");
  process.exit(2);
}
let secret = process.env.REGISTRATION_SHARED_SECRET;
const devVars = new URL("../.dev.vars", import.meta.url);
if (!secret && existsSync(devVars)) secret = /^REGISTRATION_SHARED_SECRET=(.*)$/m.exec(readFileSync(devVars, "utf8"))?.[1]?.trim();
if (!secret) {
  console.error("Set REGISTRATION_SHARED_SECRET (the secret configured on the server).");
  process.exit(2);
}

const endpoint = `${url}/_synapse/admin/v1/register`;
const { nonce } = await (await fetch(endpoint)).json();
const admin = !noAdmin;
const mac = createHmac("sha1", secret).update([nonce, username, password, admin ? "admin" : "notadmin"].join("\x00")).digest("hex");
const res = await fetch(endpoint, {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ nonce, username, password, admin, mac }),
});
const body = await res.json();
if (!res.ok) {
  console.error(`Failed (${res.status}): ${body.errcode}: ${body.error}`);
  process.exit(1);
}
console.log(`Created ${admin ? "admin " : ""}${body.user_id} (device ${body.device_id})`);
