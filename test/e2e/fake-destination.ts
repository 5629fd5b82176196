/**
 * A fake remote homeserver for the outbound federation tests: it takes
 * `PUT /_matrix/federation/v1/send/{txnId}` over plain HTTP on 127.0.0.1, checks
 * the X-Matrix signature with the sending server's published key, records every
 * request, and answers as it is told: `ok` (200 with a per-PDU result), `500`,
 * `close` (reads the whole body, processes it, then destroys the socket: the
 * answer is lost), `hang` (reads the body and never answers) or `stall` (answers 200
 * with headers and part of a body, then nothing more).
 *
 * `applied()` is what a real receiver would have processed: the first `ok` or
 * `close` receipt of each txnId (receivers dedupe by origin and txnId).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { SigningKey } from "../../src/signing.js";
import { signedKeyResponse } from "./fake-homeserver.js";
import { parseXMatrixAuthorization, verifyRequestSignature } from "../../src/x-matrix.js";

export type Behaviour = "ok" | "500" | "close" | "hang" | "stall";

export interface TxnBody {
  origin: string;
  origin_server_ts: number;
  pdus: Array<{ room_id?: string; content: { id: string; n: number } }>;
  edus: Array<{ edu_type: string; content: { id: string; n: number } }>;
}

export interface Received {
  txnId: string;
  body: TxnBody;
  behaviour: Behaviour;
  at: number;
  /** The X-Matrix signature verified with the origin's key, for this destination. */
  signed: boolean;
  path: string;
}

/** The sending server's name and published keys (`/_matrix/key/v2/server`'s verify_keys). */
export interface Origin {
  name: string;
  keys: Record<string, { key: string }>;
}

export class FakeDestination {
  readonly received: Received[] = [];
  /** Behaviours for the next requests, in order; then `otherwise`. */
  script: Behaviour[] = [];
  otherwise: Behaviour = "ok";
  /** Event ids (content.id) the 200 answer reports as refused. */
  readonly refuse = new Set<string>();
  origin: Origin | undefined;
  /** Published at /_matrix/key/v2/server when set, so the test can make requests as this server. */
  key: SigningKey | undefined;
  private server!: Server;
  private readonly sockets = new Set<Socket>();

  get name(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", () => resolve());
    });
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** The transactions a receiver would have processed, each txnId once, in order. */
  applied(): Received[] {
    const seen = new Set<string>();
    return this.received.filter((r) => (r.behaviour === "ok" || r.behaviour === "close") && !seen.has(r.txnId) && seen.add(r.txnId));
  }

  /** content.id of the PDUs processed, in the order processed. */
  appliedPduIds(): string[] {
    return this.applied().flatMap((r) => r.body.pdus.map((p) => p.content.id));
  }

  appliedEduIds(): string[] {
    return this.applied().flatMap((r) => r.body.edus.map((e) => e.content.id));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "";
      if (path === "/_matrix/key/v2/server" && this.key) return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(signedKeyResponse(this.name, this.key)));
      const m = /^\/_matrix\/federation\/v1\/send\/([^/?]+)$/.exec(path);
      if (req.method !== "PUT" || !m) return void res.writeHead(404, { "content-type": "application/json" }).end('{"errcode":"M_UNRECOGNIZED"}');
      const text = Buffer.concat(chunks).toString("utf8");
      const body = JSON.parse(text) as TxnBody;
      const behaviour = this.script.shift() ?? this.otherwise;
      this.received.push({ txnId: decodeURIComponent(m[1]!), body, behaviour, at: Date.now(), signed: this.verify(req, path, body), path });
      switch (behaviour) {
        case "ok": {
          const pdus = Object.fromEntries(body.pdus.map((p) => [p.content.id, this.refuse.has(p.content.id) ? { error: "refused by the test" } : {}]));
          return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ pdus }));
        }
        case "500":
          return void res.writeHead(500, { "content-type": "application/json" }).end('{"errcode":"M_UNKNOWN","error":"the test says no"}');
        case "close":
          return void req.socket.destroy();
        case "hang":
          return; // never answered; the sender's timeout ends it
        case "stall":
          res.writeHead(200, { "content-type": "application/json" });
          return void res.write('{"pdus": {');
      }
    });
  }

  private verify(req: IncomingMessage, uri: string, content: TxnBody): boolean {
    if (!this.origin) return false;
    const creds = parseXMatrixAuthorization(req.headers.authorization ?? "");
    const c = creds[0];
    if (creds.length !== 1 || !c || c.origin !== this.origin.name || c.destination !== this.name) return false;
    const key = this.origin.keys[c.key]?.key;
    return key !== undefined && verifyRequestSignature({ method: req.method ?? "", uri, destination: this.name, content: content as never }, c, key);
  }
}

/** The server's published verify keys, for FakeDestination.origin. */
export async function originOf(baseUrl: string, name: string): Promise<Origin> {
  const res = await fetch(`${baseUrl}/_matrix/key/v2/server`);
  const body = (await res.json()) as { verify_keys: Record<string, { key: string }> };
  return { name, keys: body.verify_keys };
}

/** A PDU-shaped object (the queue does not check events; the fake reads content.id and content.n). */
export function fakePdu(id: string, n: number, roomId = "!room:example.org", sender = "@alice:example.org") {
  return {
    eventId: `$${id}`,
    pdu: {
      room_id: roomId,
      sender,
      type: "m.room.message",
      content: { id, n, msgtype: "m.text", body: `message ${n}` },
      origin_server_ts: 1_700_000_000_000 + n,
      depth: n + 1,
      prev_events: [],
      auth_events: [],
      hashes: { sha256: "AAAA" },
      signatures: {},
    },
  };
}

export function fakeEdu(id: string, n: number, eduType = "m.receipt") {
  return { edu_type: eduType, content: { id, n } };
}
