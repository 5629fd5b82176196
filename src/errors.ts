/**
 * Matrix standard error codes (spec: client-server-api "Standard error response")
 * and the one error type thrown anywhere in the server. The Worker's error
 * handler turns it into `{errcode, error, ...extra}` with its HTTP status.
 */
export type MatrixErrcode =
  | "M_FORBIDDEN"
  | "M_UNKNOWN_TOKEN"
  | "M_MISSING_TOKEN"
  | "M_USER_LOCKED"
  | "M_USER_SUSPENDED"
  | "M_BAD_JSON"
  | "M_NOT_JSON"
  | "M_NOT_FOUND"
  | "M_LIMIT_EXCEEDED"
  | "M_UNRECOGNIZED"
  | "M_UNKNOWN"
  | "M_UNAUTHORIZED"
  | "M_USER_DEACTIVATED"
  | "M_USER_IN_USE"
  | "M_INVALID_USERNAME"
  | "M_ROOM_IN_USE"
  | "M_INVALID_ROOM_STATE"
  | "M_THREEPID_IN_USE"
  | "M_THREEPID_NOT_FOUND"
  | "M_THREEPID_AUTH_FAILED"
  | "M_THREEPID_DENIED"
  | "M_THREEPID_MEDIUM_NOT_SUPPORTED"
  | "M_SERVER_NOT_TRUSTED"
  | "M_UNSUPPORTED_ROOM_VERSION"
  | "M_INCOMPATIBLE_ROOM_VERSION"
  | "M_BAD_STATE"
  | "M_BAD_ALIAS"
  | "M_GUEST_ACCESS_FORBIDDEN"
  | "M_CAPTCHA_NEEDED"
  | "M_CAPTCHA_INVALID"
  | "M_MISSING_PARAM"
  | "M_INVALID_PARAM"
  | "M_TOO_LARGE"
  | "M_EXCLUSIVE"
  | "M_RESOURCE_LIMIT_EXCEEDED"
  | "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM"
  | "M_WEAK_PASSWORD"
  | "M_PASSWORD_TOO_SHORT"
  | "M_WRONG_ROOM_KEYS_VERSION"
  // MSC4186 simplified sliding sync: a `pos` the server does not know (400).
  | "M_UNKNOWN_POS"
  | "M_UNABLE_TO_AUTHORISE_JOIN"
  | "M_UNABLE_TO_GRANT_JOIN"
  | "M_INVALID_SIGNATURE"
  | "M_DUPLICATE_ANNOTATION"
  | "M_NOT_YET_UPLOADED"
  | "M_CANNOT_OVERWRITE_MEDIA"
  | "M_UNACTIONABLE"
  | "M_PROFILE_TOO_LARGE"
  | "M_KEY_TOO_LARGE";

export type MatrixErrorExtra = Record<string, unknown>;

export class MatrixError extends Error {
  override readonly name = "MatrixError";
  constructor(
    readonly errcode: MatrixErrcode,
    message: string,
    readonly status: number = 400,
    readonly extra: MatrixErrorExtra = {},
    /** Extra response headers, e.g. `Allow` on 405 or `Retry-After` on 429. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toJSON(): Record<string, unknown> {
    return { ...this.extra, errcode: this.errcode, error: this.message };
  }
}

/** Error values that cross Durable Object RPC as data (only message/name survive a throw). */
export interface MatrixErrorData {
  errcode: MatrixErrcode;
  error: string;
  status: number;
  extra?: MatrixErrorExtra;
}

export function errorData(e: MatrixError): MatrixErrorData {
  return { errcode: e.errcode, error: e.message, status: e.status, extra: e.extra };
}

export function fromErrorData(d: MatrixErrorData): MatrixError {
  return new MatrixError(d.errcode, d.error, d.status, d.extra ?? {});
}

export const forbidden = (msg: string) => new MatrixError("M_FORBIDDEN", msg, 403);
export const notFound = (msg: string) => new MatrixError("M_NOT_FOUND", msg, 404);
export const badJson = (msg: string) => new MatrixError("M_BAD_JSON", msg, 400);
export const invalidParam = (msg: string) => new MatrixError("M_INVALID_PARAM", msg, 400);
export const missingParam = (msg: string) => new MatrixError("M_MISSING_PARAM", msg, 400);
export const limitExceeded = (retryAfterMs: number) =>
  new MatrixError(
    "M_LIMIT_EXCEEDED",
    "Too many requests",
    429,
    { retry_after_ms: retryAfterMs },
    { "Retry-After": String(Math.ceil(retryAfterMs / 1000)) },
  );
