/**
 * Outbound fetches that cannot be steered inside (URL previews, and federation's
 * `.well-known/matrix/server` lookups): every URL,
 * including each redirect target, passes src/url-preview-policy.ts (with DNS
 * answers from the Resolver) before any connection is made. Redirects are
 * followed by hand (`redirect: "manual"`, at most 5); bodies are capped in
 * bytes and the whole chain in time.
 *
 * What remains: the runtime resolves the name again when it connects, so a
 * DNS answer that changes between our check and the connection (rebinding)
 * is not caught here. On Cloudflare, Workers cannot reach private networks
 * or IP literals anyway; under local `wrangler dev` the check is the guard.
 */
import { MatrixError } from "../../src/errors.js";
import { checkResolved, checkUrl, type PreviewPolicy } from "../../src/url-preview-policy.js";
import { readBodyBytes } from "../http-body.js";
import type { Resolver } from "./resolver.js";

export const MAX_REDIRECTS = 5;

export interface SafeFetchOptions {
  policy: PreviewPolicy;
  resolver: Resolver;
  maxBytes: number;
  signal: AbortSignal;
  accept: string;
  userAgent?: string;
  fetcher?: typeof fetch;
}

export interface FetchedBody {
  url: string;
  contentType: string;
  /** The final response's headers (e.g. Cache-Control). */
  headers: Headers;
  bytes: Uint8Array;
}

export class PreviewRefused extends Error {
  override readonly name = "PreviewRefused";
}

const USER_AGENT = "edge-matrix URL preview (Matrix homeserver; +https://matrix.org)";

/** Throws PreviewRefused when policy forbids a hop; MatrixError 502 for upstream failures. */
export async function safeFetch(start: string, o: SafeFetchOptions): Promise<FetchedBody> {
  const fetcher = o.fetcher ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  let current = start;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const verdict = checkUrl(current, o.policy);
    if (!verdict.ok) throw new PreviewRefused(verdict.reason);
    if (verdict.hostname !== undefined) {
      const answers = await o.resolver.resolve(verdict.hostname);
      const resolved = checkResolved(verdict, answers, o.policy);
      if (!resolved.ok) throw new PreviewRefused(resolved.reason);
    }
    let res: Response;
    try {
      res = await fetcher(verdict.url.href, {
        method: "GET",
        redirect: "manual",
        signal: o.signal,
        headers: { accept: o.accept, "user-agent": o.userAgent ?? USER_AGENT, "accept-language": "en" },
      });
    } catch (e) {
      throw upstream(o.signal.aborted ? "timed out" : `could not connect (${(e as Error).message})`);
    }
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel().catch(() => {});
      const location = res.headers.get("location");
      if (!location) throw upstream(`redirect ${res.status} without Location`);
      current = new URL(location, verdict.url).href;
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      throw upstream(`status ${res.status}`);
    }
    const bytes = await readCapped(res, o.maxBytes);
    return { url: verdict.url.href, contentType: res.headers.get("content-type") ?? "", headers: res.headers, bytes };
  }
  throw upstream(`more than ${MAX_REDIRECTS} redirects`);
}

function upstream(why: string): MatrixError {
  return new MatrixError("M_UNKNOWN", `Failed to fetch the URL: ${why}`, 502);
}

/** The shared capped reader (workers/middleware/body.ts), with this fetch's errors: 502 M_TOO_LARGE, 502 on a broken read. */
async function readCapped(res: Response, maxBytes: number): Promise<Uint8Array> {
  try {
    return await readBodyBytes(res, maxBytes);
  } catch (e) {
    if (!(e instanceof MatrixError)) throw upstream("timed out or connection lost while reading");
    // Over the declared length nothing was read yet: release the connection.
    await res.body?.cancel().catch(() => {});
    throw new MatrixError("M_TOO_LARGE", "The content at the URL is too large to preview", 502);
  }
}
