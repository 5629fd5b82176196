/**
 * The `X-Matrix` authorization scheme for server-server requests
 * (server-server-api "Request Authentication"): the JSON object a request's
 * signature covers, the header's grammar (RFC 9110 §11.4 auth-params), and
 * signing / verifying with a known key. Pure: keys are passed in.
 */
import type { JsonObject, JsonValue } from "./json.js";
import { signJson, verifyJsonSignature } from "./signing.js";

export interface XMatrixCredentials {
  origin: string;
  /** Optional for compatibility with servers older than spec v1.3. */
  destination?: string;
  /** `ed25519:<version>` */
  key: string;
  /** Unpadded base64 signature. */
  sig: string;
}

export interface SignedRequest {
  method: string;
  /** Path and query exactly as sent, from `/_matrix/...` on. */
  uri: string;
  origin: string;
  destination: string;
  /** The parsed JSON body, when the request has one. */
  content?: JsonValue;
}

/** What the signature covers (step 1 of "Request Authentication"). */
export function requestSigningJson(r: SignedRequest): JsonObject {
  const obj: JsonObject = { method: r.method, uri: r.uri, origin: r.origin, destination: r.destination };
  if (r.content !== undefined) obj.content = r.content;
  return obj;
}

// RFC 9110 §5.6.2: tchar.
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const isSpace = (ch: string | undefined) => ch === " " || ch === "\t";

/**
 * Every X-Matrix credential in an Authorization header value. Several
 * Authorization headers arrive joined by ", ", so one value may hold several
 * credentials (and credentials of other schemes, which are skipped).
 * A credential lacking origin, key or sig, or with a parameter twice, is dropped;
 * unknown parameters are ignored. Returns [] when nothing usable is there.
 */
export function parseXMatrixAuthorization(header: string): XMatrixCredentials[] {
  const out: XMatrixCredentials[] = [];
  let i = 0;
  const n = header.length;
  let current: Map<string, string> | null = null;
  let currentIsXMatrix = false;
  let broken = false;
  const finish = () => {
    if (current && currentIsXMatrix && !broken) {
      const origin = current.get("origin");
      const key = current.get("key");
      const sig = current.get("sig");
      const destination = current.get("destination");
      if (origin && key && sig) out.push(destination === undefined ? { origin, key, sig } : { origin, destination, key, sig });
    }
    current = null;
    broken = false;
  };
  const skip = (pred: (ch: string | undefined) => boolean) => {
    while (i < n && pred(header[i])) i++;
  };
  while (i < n) {
    skip((ch) => isSpace(ch) || ch === ",");
    if (i >= n) break;
    const start = i;
    skip((ch) => ch !== undefined && TCHAR.test(ch));
    if (i === start) {
      // Not a token where one must be: the rest of this credential is unreadable.
      broken = true;
      skip((ch) => ch !== ",");
      continue;
    }
    const word = header.slice(start, i);
    let j = i;
    while (j < n && isSpace(header[j])) j++;
    if (header[j] !== "=" || current === null) {
      // An auth-scheme begins a new credential (a token followed by "=" is a parameter).
      finish();
      current = new Map();
      currentIsXMatrix = word.toLowerCase() === "x-matrix";
      continue;
    }
    i = j + 1;
    skip(isSpace);
    let value: string;
    if (header[i] === '"') {
      i++;
      let v = "";
      let closed = false;
      while (i < n) {
        const ch = header[i] as string;
        if (ch === "\\" && i + 1 < n) {
          v += header[i + 1];
          i += 2;
        } else if (ch === '"') {
          i++;
          closed = true;
          break;
        } else {
          v += ch;
          i++;
        }
      }
      if (!closed) broken = true;
      value = v;
    } else {
      // A token, but older servers send colons unquoted (spec): take everything to the next comma or space.
      const vs = i;
      skip((ch) => ch !== undefined && ch !== "," && !isSpace(ch) && ch !== '"');
      value = header.slice(vs, i);
      if (header[i] === '"') broken = true;
    }
    const name = word.toLowerCase();
    const params = current as Map<string, string>;
    if (params.has(name)) broken = true;
    else params.set(name, value);
  }
  finish();
  return out;
}

function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The header value, written the way older servers can read it (one space, lower-case names, no spaces at commas). */
export function formatXMatrixAuthorization(c: XMatrixCredentials): string {
  const params = [`origin=${quote(c.origin)}`];
  if (c.destination !== undefined) params.push(`destination=${quote(c.destination)}`);
  params.push(`key=${quote(c.key)}`, `sig=${quote(c.sig)}`);
  return `X-Matrix ${params.join(",")}`;
}

/** Signs a request as `r.origin` and returns the Authorization header value. */
export function signRequest(r: SignedRequest, keyId: string, seed: Uint8Array): string {
  const signed = signJson(requestSigningJson(r), r.origin, keyId, seed);
  const sig = signed.signatures[r.origin]?.[keyId] as string;
  return formatXMatrixAuthorization({ origin: r.origin, destination: r.destination, key: keyId, sig });
}

/** True if `credentials.sig` is `credentials.origin`'s signature, by `publicKeyBase64`, over the request. */
export function verifyRequestSignature(
  r: Omit<SignedRequest, "origin">,
  credentials: XMatrixCredentials,
  publicKeyBase64: string,
): boolean {
  const obj = {
    ...requestSigningJson({ ...r, origin: credentials.origin }),
    signatures: { [credentials.origin]: { [credentials.key]: credentials.sig } },
  };
  // Lenient canonical JSON: a body may carry what older room versions allow (floats); whether the
  // events in it are valid for their room version is decided after authentication, with the right error.
  return verifyJsonSignature(obj, credentials.origin, credentials.key, publicKeyBase64, { strict: false });
}
