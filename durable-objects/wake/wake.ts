/**
 * Wake-ups for long-polling syncs, off the Durable Object clock
 * (../shared/design PLATFORM.md §2.5, §7, §10.1). A waiting /sync or sliding
 * sync is held by the Worker, which bills CPU time only; it opens a hibernatable
 * WebSocket to the shard of its user (services/wake.ts) and waits for one message.
 * This object keeps no request open: between events it hibernates, sockets and
 * all, and is billed only while it handles a connect or a notify.
 *
 * Users are spread over a fixed number of shards, so a message in a room with a
 * thousand local members wakes everyone in at most that many calls, not one per
 * member. Each socket is tagged with its user and carries the stream position the
 * sync has read up to; a notify at a later position sends that position and
 * closes the socket (one wake per wait).
 *
 * A wait names the topics it would answer for (services/wake.ts Topic) and is
 * woken only by a notify on one of them.
 *
 * A notify that lands between the sync's read and its socket is caught by the
 * last position notified per user and topic, kept in memory. An instance knows
 * only the notifies it received: it reads the stream position when it starts
 * (after hibernating or being evicted), and a wait from before that position is
 * woken at once, so a sync may wait from the position its client gave without
 * reading D1 first (workers/sync/sync.ts): the shard says whether anything for the
 * user was written since.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../../services/env.js";
import type { WakeApi } from "../../services/wake-api.js";
import { readStreamPos } from "../../services/stream.js";
import { ALL_TOPICS, TOPIC_COUNT } from "../../services/wake.js";

interface Attachment {
  since: number;
  topics: number;
}

/** The latest position notified on any of `topics`. */
function latestOn(latest: number[] | undefined, topics: number): number {
  let pos = 0;
  if (latest) for (let t = 0; t < TOPIC_COUNT; t++) if (topics & (1 << t) && latest[t]! > pos) pos = latest[t]!;
  return pos;
}

export class Wake extends DurableObject<Env> implements WakeApi {
  /** Per user, the latest position notified on each topic (index: the topic's bit). */
  private readonly latest = new Map<string, number[]>();
  /** The stream position when this instance started: it has seen every notify after it. */
  private floor = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      try {
        this.floor = await readStreamPos(env.DB);
      } catch (e) {
        // Without it, a wait from before this start is not woken early: it ends at its timeout.
        console.error("wake shard could not read the stream position", e);
      }
    });
  }

  /** `GET /wait?user=…&since=…&topics=…` with `Upgrade: websocket`: the socket a waiting sync listens on. */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const user = url.searchParams.get("user");
    const since = Number(url.searchParams.get("since"));
    const topics = Number(url.searchParams.get("topics") ?? ALL_TOPICS);
    if (request.headers.get("Upgrade") !== "websocket" || !user || !Number.isSafeInteger(since) || !Number.isInteger(topics)) {
      return new Response("expected a websocket upgrade", { status: 400 });
    }
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, [user]);
    server.serializeAttachment({ since, topics } satisfies Attachment);
    // Written after `since` on one of its topics, or maybe written before this instance started.
    const latest = Math.max(latestOn(this.latest.get(user), topics), this.floor);
    if (latest > since) wake(server, latest);
    return new Response(null, { status: 101, webSocket: client });
  }

  async notify(userIds: string[], pos: number, topics: number): Promise<void> {
    for (const user of userIds) {
      let latest = this.latest.get(user);
      if (!latest) this.latest.set(user, (latest = new Array<number>(TOPIC_COUNT).fill(0)));
      for (let t = 0; t < TOPIC_COUNT; t++) if (topics & (1 << t) && latest[t]! < pos) latest[t] = pos;
      for (const ws of this.ctx.getWebSockets(user)) {
        const a = ws.deserializeAttachment() as Partial<Attachment> | null;
        if (!a || ((a.since ?? 0) < pos && ((a.topics ?? ALL_TOPICS) & topics) !== 0)) wake(ws, pos);
      }
    }
  }

  async isWaiting(userId: string): Promise<boolean> {
    return this.ctx.getWebSockets(userId).length > 0;
  }

  override async webSocketMessage(): Promise<void> {
    // Waiters only listen.
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    // The sync ended its wait (timeout, or its client went away): finish the close handshake.
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "done");
    } catch {
      /* already closed */
    }
  }
}

function wake(ws: WebSocket, pos: number): void {
  try {
    ws.send(String(pos));
    ws.close(1000, "woken");
  } catch {
    /* the sync already stopped waiting */
  }
}
