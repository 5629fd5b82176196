import { z } from "zod";

/** Plain JSON values as the Matrix protocol carries them. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A JSON object in a zod schema for a parsed body: checks that it is an object
 * and hands on the very same value (signed objects must keep every key).
 */
export const JsonObjectSchema = z.custom<JsonObject>(isJsonObject, "must be a JSON object");
