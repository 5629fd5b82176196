/**
 * What a Room Durable Object method answers. Results cross Workers RPC as data:
 * a thrown error keeps only its `message` (README "Design"), so a Matrix error
 * travels as MatrixErrorData and is rethrown on the Worker's side.
 */
import { type MatrixErrorData, fromErrorData } from "./errors.js";

export type RoomResult<T> = { ok: true; value: T } | { ok: false; error: MatrixErrorData };

/** The value, or the Room's Matrix error rethrown. */
export async function unwrap<T>(p: Promise<RoomResult<T>>): Promise<T> {
  const r = await p;
  if (!r.ok) throw fromErrorData(r.error);
  return r.value;
}
