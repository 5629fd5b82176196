/**
 * HTML → `ExtractedPage` for OpenGraph (src/opengraph.ts), parsed with linkedom.
 * Only the first MiB of the page is parsed: OpenGraph lives in `<head>`.
 */
import { parseHTML } from "linkedom";
import type { ExtractedPage } from "../../src/opengraph.js";

const MAX_HTML_CHARS = 1024 * 1024;
const MAX_TEXT_CHARS = 2000;

/** The charset from Content-Type, else from `<meta charset>` / `http-equiv` in the first KiB, else UTF-8. */
export function decodeHtml(bytes: Uint8Array, contentType: string): string {
  let label = /charset\s*=\s*["']?([\w.:-]+)/i.exec(contentType)?.[1];
  if (!label) {
    const head = new TextDecoder("latin1").decode(bytes.subarray(0, 1024));
    label = /<meta[^>]+charset\s*=\s*["']?([\w.:-]+)/i.exec(head)?.[1];
  }
  try {
    return new TextDecoder(label ?? "utf-8").decode(bytes);
  } catch {
    return new TextDecoder("utf-8").decode(bytes);
  }
}

const BLOCKS = "p, div, br, li, td, th, tr, h1, h2, h3, h4, h5, h6, section, article, header, footer, blockquote, pre, dd, dt";

const intAttr = (v: string | null): number | undefined => (v && /^\d+$/.test(v.trim()) ? Number(v) : undefined);

/** The slice of linkedom's DOM used here (its typings are not the workers-types DOM). */
interface El {
  getAttribute(name: string): string | null;
  textContent: string | null;
  remove(): void;
  after(...nodes: string[]): void;
  querySelector(selector: string): El | null;
  querySelectorAll(selector: string): ArrayLike<El>;
}

export function extractPage(html: string): ExtractedPage {
  const document = parseHTML(html.length > MAX_HTML_CHARS ? html.slice(0, MAX_HTML_CHARS) : html).document as unknown as El;
  const attr = (el: El, name: string) => el.getAttribute(name) ?? undefined;
  const metas = Array.from(document.querySelectorAll("meta")).map((m) => {
    const out: ExtractedPage["metas"][number] = {};
    const property = attr(m, "property");
    const name = attr(m, "name");
    const itemprop = attr(m, "itemprop");
    const content = attr(m, "content");
    if (property !== undefined) out.property = property;
    if (name !== undefined) out.name = name;
    if (itemprop !== undefined) out.itemprop = itemprop;
    if (content !== undefined) out.content = content;
    return out;
  });
  const links = Array.from(document.querySelectorAll("link[rel][href]")).map((l) => ({
    rel: (l.getAttribute("rel") ?? "").toLowerCase(),
    href: l.getAttribute("href") ?? "",
  }));
  const images = Array.from(document.querySelectorAll("img[src]")).map((i) => {
    const img: ExtractedPage["images"][number] = { src: i.getAttribute("src") ?? "" };
    const w = intAttr(i.getAttribute("width"));
    const h = intAttr(i.getAttribute("height"));
    if (w !== undefined) img.width = w;
    if (h !== undefined) img.height = h;
    return img;
  });
  const page: ExtractedPage = { metas, links, images };
  const title = document.querySelector("title")?.textContent;
  if (title) page.title = title;
  const h1 = document.querySelector("h1")?.textContent;
  if (h1) page.h1 = h1;
  const body = document.querySelector("body");
  if (body) {
    for (const el of Array.from(body.querySelectorAll("script, style, noscript, template, svg"))) el.remove();
    // textContent runs blocks together ("Title" + "Text" = "TitleText"): separate them.
    for (const el of Array.from(body.querySelectorAll(BLOCKS))) el.after(" ");
    const text = (body.textContent ?? "").replace(/\s+/g, " ").trim().slice(0, MAX_TEXT_CHARS);
    if (text) page.text = text;
  }
  return page;
}
