import { orderSrv, parseSrvData, type SrvTarget } from "../../src/server-discovery.js";

/**
 * Name resolution for the SSRF checks of the URL previewer and of outbound
 * federation, and SRV lookups for server discovery. A Worker has no DNS API,
 * so production asks a DNS-over-HTTPS JSON endpoint (Cloudflare's 1.1.1.1 by
 * default, `URL_PREVIEW_DOH_URL`); tests point it at a fake. An empty endpoint
 * means no resolution at all: then only IP-literal URLs can be previewed.
 * Any failure resolves to no addresses, which the policy refuses.
 */
export interface Resolver {
  /** Every A and AAAA address of `hostname` (after CNAMEs), or [] if there is none. */
  resolve(hostname: string): Promise<string[]>;
}

export interface SrvResolver extends Resolver {
  /** SRV answers for `name` in preference order; [] if none; throws if the lookup failed. */
  srv(name: string): Promise<SrvTarget[]>;
}

export class DnsLookupFailed extends Error {
  override readonly name = "DnsLookupFailed";
}

interface DohAnswer {
  Status?: number;
  Answer?: { type?: number; data?: string }[];
}

const A = 1;
const AAAA = 28;
const SRV = 33;

export class DohResolver implements SrvResolver {
  constructor(
    private readonly endpoint: string,
    private readonly fetcher: typeof fetch = (input, init) => fetch(input, init),
    private readonly timeoutMs = 3000,
  ) {}

  /** Throws DnsLookupFailed when the question got no answer (network, HTTP error, SERVFAIL…); NXDOMAIN is []. */
  private async query(hostname: string, type: "A" | "AAAA" | "SRV"): Promise<string[]> {
    const url = new URL(this.endpoint);
    url.searchParams.set("name", hostname);
    url.searchParams.set("type", type);
    const res = await this.fetcher(url.href, {
      headers: { accept: "application/dns-json" },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new DnsLookupFailed(`DoH answered ${res.status}`);
    }
    const body = (await res.json()) as DohAnswer;
    // 0 NOERROR, 3 NXDOMAIN: real answers. Anything else (SERVFAIL, REFUSED…) is a failed lookup.
    if (body.Status === 3) return [];
    if (body.Status !== 0) throw new DnsLookupFailed(`DNS status ${String(body.Status)}`);
    if (!Array.isArray(body.Answer)) return [];
    const want = type === "A" ? A : type === "AAAA" ? AAAA : SRV;
    return body.Answer.filter((a) => a.type === want && typeof a.data === "string").map((a) => a.data as string);
  }

  async resolve(hostname: string): Promise<string[]> {
    if (!this.endpoint) return [];
    try {
      const [v4, v6] = await Promise.all([this.query(hostname, "A"), this.query(hostname, "AAAA")]);
      return [...v4, ...v6];
    } catch {
      return [];
    }
  }

  /** Throws DnsLookupFailed when the lookup failed, so callers do not cache "no SRV record" on a mere outage. */
  async srv(name: string): Promise<SrvTarget[]> {
    if (!this.endpoint) return [];
    let data: string[];
    try {
      data = await this.query(name, "SRV");
    } catch (e) {
      throw e instanceof DnsLookupFailed ? e : new DnsLookupFailed((e as Error).message);
    }
    return orderSrv(data.map(parseSrvData).filter((a) => a !== null));
  }
}
