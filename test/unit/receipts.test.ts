import { describe, expect, it } from "vitest";
import { MatrixError } from "../../src/errors.js";
import {
  MAIN_THREAD,
  type RelationInfo,
  isReceiptType,
  ReceiptBody,
  checkReceiptThread,
  receiptEvents,
  receiptFitsThread,
  receiptMovesForward,
  resolveThread,
} from "../../src/receipts.js";
import { validateBody } from "../../workers/middleware/body.js";

/** The spec's example DAG (receipts.md "Threaded read receipts"), plus reactions and a long chain. */
const REL: Record<string, RelationInfo> = {
  $A: { relatesTo: null, relType: null },
  $B: { relatesTo: null, relType: null },
  $C: { relatesTo: "$A", relType: "m.thread" },
  $D: { relatesTo: "$B", relType: "m.thread" },
  $G: { relatesTo: "$C", relType: "m.annotation" },
  $H: { relatesTo: "$G", relType: "m.reference" },
  $R: { relatesTo: "$A", relType: "m.annotation" },
  $X1: { relatesTo: "$X2", relType: "m.reference" },
  $X2: { relatesTo: "$X3", relType: "m.reference" },
  $X3: { relatesTo: "$X4", relType: "m.reference" },
  $X4: { relatesTo: "$C", relType: "m.reference" },
};
const lookup = async (id: string) => REL[id] ?? null;
const resolve = (id: string) => resolveThread(id, REL[id]!, lookup);
const roots = new Set(["$A", "$B"]);
const hasReplies = async (id: string) => roots.has(id);

function errcode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof MatrixError ? e.errcode : "not a MatrixError";
  }
  return undefined;
}

describe("receipt types and thread ids", () => {
  it("knows the receipt types of the /receipt endpoint", () => {
    expect(["m.read", "m.read.private", "m.fully_read"].every(isReceiptType)).toBe(true);
    expect(isReceiptType("m.read.public")).toBe(false);
  });

  it("parses thread_id per MSC3771 (as the body middleware validates it)", () => {
    expect(validateBody(ReceiptBody, {}).thread_id).toBeUndefined();
    expect(validateBody(ReceiptBody, { thread_id: "main" }).thread_id).toBe("main");
    expect(validateBody(ReceiptBody, { thread_id: "$root", other: 1 }).thread_id).toBe("$root");
    for (const body of [{ thread_id: "" }, { thread_id: 1 }, { thread_id: null }, { thread_id: ["main"] }]) {
      expect(errcode(() => validateBody(ReceiptBody, body))).toBe("M_INVALID_PARAM");
    }
    expect(errcode(() => checkReceiptThread("m.fully_read", "main"))).toBe("M_INVALID_PARAM");
    expect(errcode(() => checkReceiptThread("m.read", "main"))).toBeUndefined();
    expect(errcode(() => checkReceiptThread("m.fully_read", undefined))).toBeUndefined();
  });
});

describe("resolveThread", () => {
  it("puts thread replies in their thread and roots in the main timeline", async () => {
    expect(await resolve("$C")).toEqual({ thread: "$A", top: "$A" });
    expect(await resolve("$D")).toEqual({ thread: "$B", top: "$B" });
    expect(await resolve("$A")).toEqual({ thread: null, top: "$A" });
  });

  it("follows other relations up to the thread (a reaction to a reply is in the thread)", async () => {
    expect(await resolve("$G")).toEqual({ thread: "$A", top: "$A" });
    expect(await resolve("$H")).toEqual({ thread: "$A", top: "$A" });
    // A reaction to a root is in the main timeline.
    expect(await resolve("$R")).toEqual({ thread: null, top: "$A" });
  });

  it("stops after a bounded number of hops", async () => {
    const r = await resolve("$X1");
    expect(r.thread).toBeNull();
  });

  it("treats an unknown parent as the top", async () => {
    expect(await resolveThread("$E", { relatesTo: "$missing", relType: "m.annotation" }, lookup)).toEqual({ thread: null, top: "$missing" });
  });

  it("terminates on relation cycles", async () => {
    const cyc: Record<string, RelationInfo> = { $P: { relatesTo: "$Q", relType: "m.reference" }, $Q: { relatesTo: "$P", relType: "m.reference" } };
    const r = await resolveThread("$P", cyc.$P!, async (id) => cyc[id] ?? null);
    expect(r.thread).toBeNull();
  });
});

describe("receiptFitsThread", () => {
  it("main needs an event outside threads", async () => {
    expect(await receiptFitsThread(MAIN_THREAD, await resolve("$A"), hasReplies)).toBe(true);
    expect(await receiptFitsThread(MAIN_THREAD, await resolve("$R"), hasReplies)).toBe(true);
    expect(await receiptFitsThread(MAIN_THREAD, await resolve("$C"), hasReplies)).toBe(false);
    expect(await receiptFitsThread(MAIN_THREAD, await resolve("$G"), hasReplies)).toBe(false);
  });

  it("a thread needs an event in it, or its root", async () => {
    expect(await receiptFitsThread("$A", await resolve("$C"), hasReplies)).toBe(true);
    expect(await receiptFitsThread("$A", await resolve("$G"), hasReplies)).toBe(true);
    expect(await receiptFitsThread("$A", await resolve("$A"), hasReplies)).toBe(true);
    expect(await receiptFitsThread("$A", await resolve("$R"), hasReplies)).toBe(true);
    expect(await receiptFitsThread("$B", await resolve("$C"), hasReplies)).toBe(false);
    expect(await receiptFitsThread("$A", await resolve("$D"), hasReplies)).toBe(false);
    // An event that is nobody's thread root is no thread.
    expect(await receiptFitsThread("$X1", { thread: null, top: "$X1" }, hasReplies)).toBe(false);
  });
});

describe("receiptMovesForward", () => {
  it("accepts the first receipt and later events only", () => {
    expect(receiptMovesForward(null, 5)).toBe(true);
    expect(receiptMovesForward({ event_stream_pos: 5 }, 6)).toBe(true);
    expect(receiptMovesForward({ event_stream_pos: 5 }, 5)).toBe(false);
    expect(receiptMovesForward({ event_stream_pos: 5 }, 4)).toBe(false);
  });
});

describe("receiptEvents", () => {
  it("batches per thread into the m.receipt content shape", () => {
    const events = receiptEvents([
      { user_id: "@a:x", receipt_type: "m.read", thread_id: "", event_id: "$1", ts: 10 },
      { user_id: "@b:x", receipt_type: "m.read", thread_id: "", event_id: "$1", ts: 11 },
      { user_id: "@a:x", receipt_type: "m.read", thread_id: "main", event_id: "$1", ts: 12 },
      { user_id: "@a:x", receipt_type: "m.read.private", thread_id: "$root", event_id: "$2", ts: 13 },
    ]);
    expect(events).toEqual([
      { type: "m.receipt", content: { $1: { "m.read": { "@a:x": { ts: 10 }, "@b:x": { ts: 11 } } } } },
      { type: "m.receipt", content: { $2: { "m.read.private": { "@a:x": { ts: 13, thread_id: "$root" } } } } },
      { type: "m.receipt", content: { $1: { "m.read": { "@a:x": { ts: 12, thread_id: "main" } } } } },
    ]);
    expect(receiptEvents([])).toEqual([]);
  });
});
