import type { Context } from "hono";
import type { z } from "zod";
import { MatrixError } from "../../src/errors.js";
import { isJsonObject, type JsonObject } from "../../src/json.js";
import { assertJsonLimits } from "../../src/json-limits.js";
import { getConfig } from "../config.js";
import type { AppEnv } from "../app-env.js";

export const tooLarge = (limit: number) =>
  new MatrixError("M_TOO_LARGE", `Request body exceeds the limit of ${limit} bytes`, 413);

/** Reads the raw body, refusing anything over `limit` bytes even when no Content-Length was sent. */
export async function readBodyBytes(req: Request | Response, limit: number): Promise<Uint8Array> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const ch of chunks) {
    out.set(ch, off);
    off += ch.byteLength;
  }
  return out;
}

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

/** Reads and validates a JSON body; a wrong shape is 400 M_BAD_JSON. */
export async function readJson<S extends z.ZodType>(
  c: Context<AppEnv>,
  schema: S,
  opts: { allowEmpty?: boolean } = {},
): Promise<z.infer<S>> {
  const obj = await readJsonObject(c, opts);
  const parsed = schema.safeParse(obj);
  if (!parsed.success) throw new MatrixError("M_BAD_JSON", describeZodError(parsed.error), 400);
  return parsed.data;
}
