/**
 * Reporting content (client-server-api "Reporting content", report_content.yaml):
 * the request bodies of event, room and user reports.
 *
 * Pure: no Workers APIs.
 */
import { MatrixError } from "./errors.js";
import type { JsonObject } from "./json.js";

/** Synapse's cap on a report's reason (user reports; applied to all kinds here). */
export const MAX_REASON_LENGTH = 1000;

function reasonOf(body: JsonObject, required: boolean): string | undefined {
  const reason = body.reason;
  if (reason === undefined && !required) return undefined;
  if (typeof reason !== "string") throw new MatrixError("M_BAD_JSON", required ? "reason: a string is required" : "Param 'reason' must be a string", 400);
  if (reason.length > MAX_REASON_LENGTH) throw new MatrixError("M_BAD_JSON", `Reason must be less than ${MAX_REASON_LENGTH} characters`, 400);
  return reason;
}

/**
 * POST /rooms/{roomId}/report/{eventId}: `reason` optional; `score` (removed in v1.18,
 * still sent by older clients) optional, an integer from -100 (most offensive) to 0.
 */
export function parseEventReport(body: JsonObject): { reason?: string; score?: number } {
  const out: { reason?: string; score?: number } = {};
  const reason = reasonOf(body, false);
  if (reason !== undefined) out.reason = reason;
  const score = body.score;
  if (score !== undefined) {
    if (typeof score !== "number" || !Number.isInteger(score)) throw new MatrixError("M_BAD_JSON", "Param 'score' must be an integer", 400);
    if (score < -100 || score > 0) throw new MatrixError("M_INVALID_PARAM", "Param 'score' must be between -100 and 0", 400);
    out.score = score;
  }
  return out;
}

/** POST /rooms/{roomId}/report and /users/{userId}/report: `reason` is required (may be blank). */
export function parseRoomOrUserReport(body: JsonObject): { reason: string } {
  return { reason: reasonOf(body, true)! };
}
