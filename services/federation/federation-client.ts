/**
 * Signed requests to other homeservers' federation API (server-server-api
 * "Request Authentication": every request carries an X-Matrix Authorization
 * header signed by this server's key over method, URI, origin, destination
 * and the JSON body). Answers are read with a byte cap and the same JSON
 * limits as request bodies, so a hostile server cannot exhaust memory or
 * recursion; errors come back as FederationRequestFailed with the remote
 * status and errcode, or FederationUnreachable.
 */
import { MatrixError } from "../../src/errors.js";
import { isJsonObject, type JsonObject } from "../../src/json.js";
import { jsonLimitViolation } from "../../src/json-limits.js";
import { signRequest } from "../../src/x-matrix.js";
import type { Env } from "../env.js";
import { readBodyBytes } from "../http-body.js";
import { getServerKeys } from "../server-keys.js";
import { FederationUnreachable, federationFetch } from "./federation-fetch.js";

/** Most answers are small; `send_join` and `state` of big rooms are not (callers raise it). */
const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** The remote server answered, but not with a usable success. */
export class FederationRequestFailed extends Error {
  override readonly name = "FederationRequestFailed";
  constructor(
    message: string,
    /** The HTTP status, or 0 when the answer was not usable JSON. */
    readonly status: number,
    readonly errcode?: string,
    /** The error answer's JSON (extra fields such as `room_version`). */
    readonly body: JsonObject = {},
  ) {
    super(message);
  }
}

export interface FederationRequestOptions {
  body?: JsonObject;
  maxResponseBytes?: number;
  signal?: AbortSignal;
}

/**
 * `method path` on `destination`, signed as this server. `path` is the path and
 * query exactly as sent (already percent-encoded), from `/_matrix/` on.
 * Resolves with the JSON object of a 2xx answer.
 */
export async function federationRequest(env: Env, destination: string, method: string, path: string, opts: FederationRequestOptions = {}): Promise<JsonObject> {
  const value = await federationRequestAny(env, destination, method, path, opts);
  if (!isJsonObject(value)) throw new FederationRequestFailed(`${destination}: answer to ${method} ${path.split("?")[0]} is not a JSON object`, 0);
  return value;
}

/** As federationRequest, for the v1 endpoints whose answer is an array (`[200, {...}]`). */
export async function federationRequestAny(env: Env, destination: string, method: string, path: string, opts: FederationRequestOptions = {}): Promise<unknown> {
  const keys = await getServerKeys(env);
  const authorization = signRequest({ method, uri: path, origin: env.SERVER_NAME, destination, content: opts.body }, keys.keyId, keys.seed);
  const headers: Record<string, string> = { authorization, accept: "application/json" };
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  const res = await federationFetch(env, destination, path, {
    method,
    headers,
    body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
    signal: opts.signal,
  });
  let bytes: Uint8Array;
  try {
    bytes = await readBodyBytes(res, opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES);
  } catch (e) {
    if (e instanceof MatrixError) throw new FederationRequestFailed(`${destination}: answer to ${method} ${path} too large`, 0);
    throw new FederationUnreachable(`${destination}: connection lost while reading the answer (${(e as Error).message})`);
  }
  let value: unknown;
  try {
    value = bytes.byteLength ? JSON.parse(new TextDecoder().decode(bytes)) : undefined;
  } catch {
    value = undefined;
  }
  const violation = value === undefined ? undefined : jsonLimitViolation(value);
  if (res.status < 200 || res.status >= 300) {
    const err = isJsonObject(value) && !violation ? value : {};
    const errcode = typeof err.errcode === "string" ? err.errcode : undefined;
    const msg = typeof err.error === "string" ? err.error.slice(0, 300) : "";
    throw new FederationRequestFailed(`${destination} answered ${res.status}${errcode ? ` ${errcode}` : ""} to ${method} ${path.split("?")[0]}${msg ? `: ${msg}` : ""}`, res.status, errcode, err);
  }
  if (violation) throw new FederationRequestFailed(`${destination}: answer${violation.path}: ${violation.reason}`, 0);
  if (value === undefined) throw new FederationRequestFailed(`${destination}: answer to ${method} ${path.split("?")[0]} is not JSON`, 0);
  return value;
}
