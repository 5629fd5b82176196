import type { Context, MiddlewareHandler } from "hono";
import { z } from "zod";
import { MatrixError, type MatrixErrcode } from "../../src/errors.js";
import { isJsonObject, type JsonObject } from "../../src/json.js";
import { assertJsonLimits } from "../../src/json-limits.js";
import { getConfig } from "../config.js";
import type { AppEnv } from "../app-env.js";
import { readBodyBytes } from "../../services/http-body.js";

const notJson = () => new MatrixError("M_NOT_JSON", "Content not JSON.", 400);

/** Parses the request body as a JSON object (spec: bodies are objects; M_NOT_JSON / M_BAD_JSON). */
export async function readJsonObject(c: Context<AppEnv>, opts: { allowEmpty?: boolean } = {}): Promise<JsonObject> {
  const limit = getConfig(c.env).maxJsonBodyBytes;
  const bytes = await readBodyBytes(c.req.raw, limit);
  if (bytes.byteLength === 0 && opts.allowEmpty) return {};
  return parseJsonObject(bytes);
}

/**
 * UTF-8 JSON bytes that must hold an object; M_NOT_JSON / M_BAD_JSON otherwise.
 * Depth and numbers are checked here, before any caller's recursive work (src/json-limits.ts).
 */
export function parseJsonObject(bytes: Uint8Array): JsonObject {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw notJson();
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // A SyntaxError, or a RangeError should a parser ever recurse too deep: either way not JSON we take.
    throw notJson();
  }
  if (!isJsonObject(value)) throw new MatrixError("M_BAD_JSON", "Content must be a JSON object.", 400);
  assertJsonLimits(value, "Content");
  return value;
}


/** Describes the first zod issue the way a client developer can act on. */
export function describeZodError(err: z.ZodError): string {
  const issue = err.issues[0];
  if (!issue) return "Invalid request body";
  const where = issue.path.length ? issue.path.join(".") : "body";
  return `${where}: ${issue.message}`;
}

/** What a schema may attach to a refinement to choose the error: `.refine(f, { params: { errcode, status } })`. */
export interface BodyIssueParams {
  errcode?: MatrixErrcode;
  status?: number;
}

function isMissing(input: unknown, path: readonly PropertyKey[]): boolean {
  let at: unknown = input;
  for (const key of path.slice(0, -1)) {
    if (typeof at !== "object" || at === null) return false;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  const last = path.at(-1);
  return last !== undefined && typeof at === "object" && at !== null && !Array.isArray(at) && !(last in at);
}

/**
 * A zod failure as the spec's error (client-server-api "Standard error response"):
 * a required key that is absent is M_MISSING_PARAM; a refinement may name its own
 * errcode and status; anything else present but malformed is M_BAD_JSON ("valid
 * JSON, but malformed in some way, e.g. … invalid values for keys").
 */
export function bodyError(err: z.ZodError, input: unknown): MatrixError {
  const issue = err.issues[0];
  const message = describeZodError(err);
  if (!issue) return new MatrixError("M_BAD_JSON", message, 400);
  const params = (issue as { params?: BodyIssueParams }).params;
  if (params?.errcode) return new MatrixError(params.errcode, message, params.status ?? 400);
  // Whatever the check (a type, an enum, a union, a custom JSON object), failing on an absent key means it was required.
  if (isMissing(input, issue.path)) return new MatrixError("M_MISSING_PARAM", `Missing parameter: ${issue.path.join(".")}`, 400);
  return new MatrixError("M_BAD_JSON", message, 400);
}

/** A parsed value checked against a schema, or the spec's error for the first problem. */
export function validateBody<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw bodyError(parsed.error, value);
  return parsed.data;
}

/** Reads and validates a JSON body inside a handler (where the middleware cannot be used). */
export async function readJson<S extends z.ZodType>(
  c: Context<AppEnv>,
  schema: S,
  opts: { allowEmpty?: boolean } = {},
): Promise<z.output<S>> {
  return validateBody(schema, await readJsonObject(c, opts));
}

/**
 * The one way a route takes a JSON body: read within the size limit, parsed as an
 * object with depth and number limits (parseJsonObject), validated against `schema`,
 * and handed to the handler as `c.req.valid("json")`. Errors are the spec's:
 * M_TOO_LARGE, M_NOT_JSON, M_BAD_JSON, M_MISSING_PARAM (bodyError).
 */
export function jsonBody<S extends z.ZodType>(
  schema: S,
  opts: { allowEmpty?: boolean } = {},
): MiddlewareHandler<AppEnv, string, { in: { json: z.input<S> }; out: { json: z.output<S> } }> {
  return async (c, next) => {
    c.req.addValidatedData("json", validateBody(schema, await readJsonObject(c, opts)) as object);
    await next();
  };
}
