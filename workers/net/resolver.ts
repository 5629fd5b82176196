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
  /** SRV answers for `name` in preference order; [] if none or on failure. */
  srv(name: string): Promise<SrvTarget[]>;
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
      return [];
    }
    const body = (await res.json()) as DohAnswer;
    if (body.Status !== 0 || !Array.isArray(body.Answer)) return [];
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

  async srv(name: string): Promise<SrvTarget[]> {
    if (!this.endpoint) return [];
    try {
      const answers = (await this.query(name, "SRV")).map(parseSrvData);
      return orderSrv(answers.filter((a) => a !== null));
    } catch {
      return [];
    }
  }
}
