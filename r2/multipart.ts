/**
 * The federation media answer (server-server-api `GET /_matrix/federation/v1/media/{download,thumbnail}/{mediaId}`,
 * MSC3916): `multipart/mixed` (RFC 2046 §5.1) with exactly two parts, the JSON
 * metadata object first, then the media with its Content-Type and
 * Content-Disposition. The media body is streamed through, never buffered.
 * Used by workers/routes/federation-media.ts.
 */
const enc = new TextEncoder();

/** 32 random hex characters: cannot occur by chance in the media. */
export function newBoundary(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Wraps a media response (from serve.ts or thumbnails.ts) into the federation multipart form. */
export function federationMultipart(media: Response, metadata: Record<string, unknown> = {}, boundary = newBoundary()): Response {
  const partHeaders = ["Content-Type", "Content-Disposition"]
    .map((h) => [h, media.headers.get(h)] as const)
    .filter((e): e is readonly [string, string] => e[1] !== null)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  const head = enc.encode(`--${boundary}\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(metadata)}\r\n--${boundary}\r\n${partHeaders}\r\n`);
  const tail = enc.encode(`\r\n--${boundary}--\r\n`);
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const pump = async () => {
    const writer = writable.getWriter();
    try {
      await writer.write(head);
      if (media.body) {
        const reader = media.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          await writer.write(value);
        }
      }
      await writer.write(tail);
      await writer.close();
    } catch (e) {
      await writer.abort(e).catch(() => {});
    }
  };
  void pump();
  const headers = new Headers({ "Content-Type": `multipart/mixed; boundary=${boundary}` });
  const length = media.headers.get("Content-Length");
  if (length !== null && /^\d+$/.test(length)) headers.set("Content-Length", String(head.byteLength + Number(length) + tail.byteLength));
  return new Response(readable, { status: 200, headers });
}
