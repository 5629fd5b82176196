/**
 * Reporting content (client-server-api "Reporting content", report_content.yaml):
 * the request bodies of event, room and user reports, as zod schemas for the
 * body middleware (a wrong type is M_BAD_JSON, an absent required key
 * M_MISSING_PARAM, as Synapse's pydantic bodies).
 *
 * Pure: no Workers APIs.
 */
import { z } from "zod";

/** Synapse's cap on a report's reason (user reports; applied to all kinds here). */
export const MAX_REASON_LENGTH = 1000;

const Reason = z.string().max(MAX_REASON_LENGTH, `Reason must be less than ${MAX_REASON_LENGTH} characters`);

/**
 * POST /rooms/{roomId}/report/{eventId}: `reason` optional; `score` (removed in v1.18,
 * still sent by older clients) optional, an integer from -100 (most offensive) to 0,
 * out of range being M_INVALID_PARAM (as Synapse). Other keys are kept: the whole
 * body is stored with the report.
 */
export const EventReportBody = z.looseObject({
  reason: Reason.optional(),
  score: z
    .number()
    .int()
    .refine((s) => s >= -100 && s <= 0, { message: "Param 'score' must be between -100 and 0", params: { errcode: "M_INVALID_PARAM" } })
    .optional(),
});

/** POST /rooms/{roomId}/report and /users/{userId}/report: `reason` is required (may be blank). */
export const RoomOrUserReportBody = z.object({ reason: Reason });
