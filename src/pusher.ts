/**
 * Pushers (client-server-api "Push Notifications", pusher.yaml POST
 * /pushers/set): validation of a pusher from the request body.
 */
import { MatrixError } from "./errors.js";
import { type JsonObject, JsonObjectSchema, isJsonObject } from "./json.js";
import { utf8Length } from "./identifiers.js";

export interface Pusher {
  pushkey: string;
  kind: "http" | "email";
  app_id: string;
  app_display_name: string;
  device_display_name: string;
  profile_tag?: string;
  lang: string;
  data: JsonObject;
}

export type PusherRequest = { delete: true; app_id: string; pushkey: string } | { delete: false; pusher: Pusher; append: boolean };

/** The path push gateways serve (push-gateway-api "POST /_matrix/push/v1/notify"). */
export const PUSH_GATEWAY_PATH = "/_matrix/push/v1/notify";

const missing = (names: string[]) => new MatrixError("M_MISSING_PARAM", `Missing parameters: ${names.join(", ")}`, 400);
const badType = (name: string, what: string) => new MatrixError("M_BAD_JSON", `${name} must be ${what}`, 400);

/**
 * `data.url` of an http pusher: "MUST be an HTTPS URL with a path of
 * /_matrix/push/v1/notify" — plain http is accepted too (as Synapse does, for
 * gateways on a private network and for testing).
 */
export function checkGatewayUrl(url: unknown): string {
  if (url === undefined) throw missing(["data.url"]);
  if (typeof url !== "string") throw badType("data.url", "a string");
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new MatrixError("M_INVALID_PARAM", "data.url is not a valid URL", 400);
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw new MatrixError("M_INVALID_PARAM", "data.url must be an http(s) URL", 400);
  if (u.pathname !== PUSH_GATEWAY_PATH) throw new MatrixError("M_INVALID_PARAM", `data.url must have the path ${PUSH_GATEWAY_PATH}`, 400);
  if (u.username || u.password) throw new MatrixError("M_INVALID_PARAM", "data.url must not carry credentials", 400);
  return url;
}

export function parsePusherRequest(body: JsonObject): PusherRequest {
  const absent = ["kind", "app_id", "pushkey"].filter((k) => !(k in body));
  if (absent.length) throw missing(absent);
  const { app_id, pushkey, kind } = body;
  if (typeof app_id !== "string") throw badType("app_id", "a string");
  if (typeof pushkey !== "string") throw badType("pushkey", "a string");
  if (app_id.length > 64) throw new MatrixError("M_INVALID_PARAM", "app_id is longer than 64 characters", 400);
  if (utf8Length(pushkey) > 512) throw new MatrixError("M_INVALID_PARAM", "pushkey is longer than 512 bytes", 400);
  // "If kind is null, the pusher with this app_id and pushkey for this user is deleted."
  if (kind === null) return { delete: true, app_id, pushkey };
  if (kind !== "http" && kind !== "email") throw new MatrixError("M_INVALID_PARAM", "kind must be 'http', 'email' or null", 400);
  const need = ["app_display_name", "device_display_name", "lang", "data"].filter((k) => !(k in body) || body[k] === null);
  if (need.length) throw missing(need);
  for (const k of ["app_display_name", "device_display_name", "lang"] as const) if (typeof body[k] !== "string") throw badType(k, "a string");
  if (!isJsonObject(body.data)) throw badType("data", "an object");
  if (body.profile_tag !== undefined && typeof body.profile_tag !== "string") throw badType("profile_tag", "a string");
  if (body.append !== undefined && typeof body.append !== "boolean") throw badType("append", "a boolean");
  if (kind === "http") checkGatewayUrl(body.data.url);
  if (kind === "email" && app_id !== "m.email") throw new MatrixError("M_INVALID_PARAM", "Email pushers have the app_id 'm.email'", 400);
  const pusher: Pusher = {
    pushkey,
    kind,
    app_id,
    app_display_name: body.app_display_name as string,
    device_display_name: body.device_display_name as string,
    lang: body.lang as string,
    data: body.data,
    ...(typeof body.profile_tag === "string" ? { profile_tag: body.profile_tag } : {}),
  };
  return { delete: false, pusher, append: body.append === true };
}

/**
 * The body of POST /pushers/set for jsonBody: an object, checked by
 * parsePusherRequest (which fields are required depends on `kind`, and null
 * counts as absent). Its MatrixErrors, with their errcodes, pass through zod.
 */
export const PusherRequestSchema = JsonObjectSchema.transform(parsePusherRequest);
