/**
 * A hostile or odd remote homeserver for the inbound federation tests: plain
 * HTTP on 127.0.0.1, publishing a signing key the test holds (so the test can
 * sign events and requests as this server), answering what the test registers
 * per path, and logging every request. `keys: "redirect-loop"` answers its key
 * endpoint with a redirect to itself, forever.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { JsonObject } from "../../src/json.js";
import { signJson, type SigningKey } from "../../src/signing.js";

/** `/_matrix/key/v2/server` of a server named `name` holding `key`, valid for an hour, self-signed. */
export function signedKeyResponse(name: string, key: SigningKey): JsonObject {
  const body = { server_name: name, valid_until_ts: Date.now() + 3_600_000, verify_keys: { [key.keyId]: { key: key.publicKeyBase64 } }, old_verify_keys: {} };
  return signJson(body, name, key.keyId, key.seed) as unknown as JsonObject;
}

export type Handler = (req: { method: string; path: string; query: URLSearchParams; body: JsonObject | undefined }) => { status: number; json: JsonObject } | undefined;

export class FakeHomeserver {
  readonly requests: Array<{ method: string; path: string }> = [];
  /** Tried in order; the first that answers wins. Unanswered requests get 404 M_NOT_FOUND. */
  readonly handlers: Handler[] = [];
  private server!: Server;

  constructor(
    readonly port: number,
    readonly key: SigningKey,
    readonly keys: "serve" | "redirect-loop" = "serve",
  ) {}

  get name(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(this.port, "127.0.0.1", () => r()));
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  count(prefix: string): number {
    return this.requests.filter((r) => r.path.startsWith(prefix)).length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? "/", `http://${this.name}`);
    const method = req.method ?? "GET";
    this.requests.push({ method, path: url.pathname });
    const send = (status: number, json: JsonObject, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(json));
    };
    if (url.pathname === "/_matrix/key/v2/server") {
      if (this.keys === "redirect-loop") return send(302, {}, { location: `http://${this.name}/_matrix/key/v2/server` });
      return send(200, signedKeyResponse(this.name, this.key));
    }
    let body: JsonObject | undefined;
    try {
      body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString("utf8")) as JsonObject) : undefined;
    } catch {
      body = undefined;
    }
    for (const h of this.handlers) {
      const answer = h({ method, path: url.pathname, query: url.searchParams, body });
      if (answer) return send(answer.status, answer.json);
    }
    send(404, { errcode: "M_NOT_FOUND", error: "Not here" });
  }
}
