/**
 * X-Matrix request authentication for the federation API (server-server-api
 * "Request Authentication"): the origin's key signs method, URI, origin,
 * destination and the JSON body. Every failure is 401 M_UNAUTHORIZED; on
 * success `c.get("origin")` is the authenticated server name and
 * `c.get("federationContent")` the parsed body, if the request had one.
 */
import type { Context, MiddlewareHandler } from "hono";
import { MatrixError } from "../../src/errors.js";
import { isValidServerName } from "../../src/identifiers.js";
import type { JsonObject } from "../../src/json.js";
import { parseXMatrixAuthorization, verifyRequestSignature } from "../../src/x-matrix.js";
import type { AppEnv } from "../app-env.js";
import { getConfig } from "../config.js";
import { KeyFetchFailed, requestVerifyKey } from "../../services/federation/remote-keys.js";
import { readBodyBytes } from "../../services/http-body.js";
import { parseJsonObject } from "./body.js";
import { destinationSeen } from "../federation/destination-seen.js";

const MAX_CREDENTIALS = 4;

const unauthorized = (msg: string) => new MatrixError("M_UNAUTHORIZED", msg, 401);

/** The request's ExecutionContext, or a stand-in that awaits nothing where there is none (a route mounted in a test app). */
function executionContext(c: Context<AppEnv>): { waitUntil(p: Promise<unknown>): void } {
  try {
    return c.executionCtx;
  } catch {
    return { waitUntil: (p) => void p.catch(() => undefined) };
  }
}

export function requireServerAuth(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    if (!header) throw unauthorized("Missing X-Matrix Authorization header");
    // Each credential may cost a key fetch: a handful is plenty (one per key a server signs with).
    const credentials = parseXMatrixAuthorization(header).slice(0, MAX_CREDENTIALS);
    const first = credentials[0];
    if (!first) throw unauthorized("Malformed X-Matrix Authorization header");
    const origin = first.origin;
    if (credentials.some((x) => x.origin !== origin)) throw unauthorized("Authorization headers name different origins");
    // A malformed header, not a failed check: 400, as Synapse ("Malformed Authorization header").
    if (!isValidServerName(origin)) throw new MatrixError("M_UNAUTHORIZED", "The origin is not a valid server name", 400);
    const { serverName, maxJsonBodyBytes } = getConfig(c.env);

    // `content` is signed only when the request has a body.
    const bytes = await readBodyBytes(c.req.raw, maxJsonBodyBytes);
    const content: JsonObject | undefined = bytes.byteLength > 0 ? parseJsonObject(bytes) : undefined;
    // The target as received (path and query, a bare trailing "?" included), not a re-serialisation.
    const uri = c.req.url.slice(new URL(c.req.url).origin.length);
    const request = { method: c.req.method, uri, destination: serverName, content };

    let why = "The request signature does not verify";
    for (const cred of credentials) {
      if (cred.destination !== undefined && cred.destination !== serverName) {
        why = `The request is addressed to ${cred.destination}, not this server`;
        continue;
      }
      let key: string;
      try {
        key = await requestVerifyKey(c.env, origin, cred.key);
      } catch (e) {
        if (!(e instanceof KeyFetchFailed)) throw e;
        why = `Failed to find the key ${cred.key} of ${origin}: ${e.message}`;
        continue;
      }
      if (verifyRequestSignature(request, cred, key)) {
        c.set("origin", origin);
        if (content !== undefined) c.set("federationContent", content);
        if (origin !== serverName) destinationSeen(c.env, executionContext(c), origin);
        return next();
      }
    }
    throw unauthorized(why);
  };
}
