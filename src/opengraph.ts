/**
 * OpenGraph data for `preview_url` (client-server-api, `GET /_matrix/client/v1/media/preview_url`):
 * the page's `og:*` tags, with HTML fallbacks for pages that have none
 * (twitter cards, `<title>`, meta description, the first image or icon),
 * the way Synapse's previewer fills them. Pure: the DOM walk that produces
 * `ExtractedPage` lives beside the HTML parser (workers/media/html-extract.ts).
 */
export interface ExtractedPage {
  /** `<meta>` tags in document order. */
  metas: { property?: string; name?: string; itemprop?: string; content?: string }[];
  title?: string;
  h1?: string;
  /** `<link rel=…>` in document order (rel lower-cased). */
  links: { rel: string; href: string }[];
  /** `<img src>` in document order with their declared sizes. */
  images: { src: string; width?: number; height?: number }[];
  /** Visible text of the body (scripts and styles excluded), whitespace collapsed. */
  text?: string;
}

export type OpenGraph = Record<string, string | number>;

const MAX_TAGS = 50;
const MAX_VALUE_CHARS = 1000;
const MAX_DESCRIPTION_CHARS = 500;

function clean(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  const t = s.replace(/\s+/g, " ").trim();
  return t ? t : undefined;
}

function truncate(s: string, n: number): string {
  if (s.length <= n) return s;
  const cut = s.slice(0, n);
  const space = cut.lastIndexOf(" ");
  return `${space > n / 2 ? cut.slice(0, space) : cut}…`;
}

/** `href` resolved against the page, kept only if http(s). */
export function absoluteHttpUrl(href: string | undefined, base: string): string | undefined {
  if (!href) return undefined;
  try {
    const u = new URL(href.trim(), base);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : undefined;
  } catch {
    return undefined;
  }
}

export function buildOpenGraph(page: ExtractedPage, pageUrl: string): OpenGraph {
  const og: OpenGraph = {};
  let count = 0;
  for (const m of page.metas) {
    const key = m.property?.trim().toLowerCase();
    if (!key || !key.startsWith("og:") || m.content === undefined) continue;
    if (key in og) continue; // the first of repeated tags (e.g. several og:image) wins
    const value = clean(m.content);
    if (value === undefined || value.length > MAX_VALUE_CHARS) continue;
    og[key] = value;
    if (++count >= MAX_TAGS) break;
  }
  const meta = (pred: (m: ExtractedPage["metas"][number]) => boolean) => clean(page.metas.find((m) => pred(m) && m.content)?.content);
  const named = (n: string) => meta((m) => m.name?.toLowerCase() === n || m.property?.toLowerCase() === n);

  if (og["og:title"] === undefined) {
    const title = named("twitter:title") ?? clean(page.title) ?? clean(page.h1);
    if (title) og["og:title"] = truncate(title, MAX_VALUE_CHARS);
  }
  if (og["og:description"] === undefined) {
    const desc = named("description") ?? named("twitter:description") ?? meta((m) => m.itemprop?.toLowerCase() === "description") ?? clean(page.text);
    if (desc) og["og:description"] = truncate(desc, MAX_DESCRIPTION_CHARS);
  }
  if (og["og:image"] === undefined) {
    const image =
      named("twitter:image") ??
      named("twitter:image:src") ??
      page.links.find((l) => l.rel.split(/\s+/).includes("image_src"))?.href ??
      largestImage(page.images) ??
      page.links.find((l) => l.rel.split(/\s+/).some((r) => r === "apple-touch-icon" || r === "icon"))?.href;
    if (image) og["og:image"] = image;
  }
  if (typeof og["og:image"] === "string") {
    const abs = absoluteHttpUrl(og["og:image"], pageUrl);
    if (abs) og["og:image"] = abs;
    else delete og["og:image"];
  }
  return og;
}

/** The first image declared bigger than 10,000 px², else the first image (tracking pixels skipped). */
function largestImage(images: ExtractedPage["images"]): string | undefined {
  const sized = images.find((i) => (i.width ?? 0) * (i.height ?? 0) > 10_000);
  if (sized) return sized.src;
  return images.find((i) => !(i.width !== undefined && i.width <= 1) && !(i.height !== undefined && i.height <= 1))?.src;
}
