import { describe, expect, it } from "vitest";
import { MatrixError } from "../../src/errors.js";
import {
  MAX_PUBLIC_ROOMS_PAGE,
  boundClause,
  decodeDirectoryToken,
  directoryPage,
  encodeDirectoryToken,
  pageLimit,
  type DirectoryBound,
} from "../../src/public-rooms.js";

interface R {
  room_id: string;
  joined_members: number;
}

/** In-memory stand-in for the SQL query: filter by bound, order by direction, probe limit + 1. */
function query(all: R[], bound: DirectoryBound | undefined, limit: number): R[] {
  const desc = [...all].sort((a, b) => b.joined_members - a.joined_members || (a.room_id < b.room_id ? 1 : -1));
  if (!bound) return desc.slice(0, limit + 1);
  if (bound.forward) {
    return desc.filter((r) => r.joined_members < bound.members || (r.joined_members === bound.members && r.room_id < bound.roomId)).slice(0, limit + 1);
  }
  return desc
    .reverse()
    .filter((r) => r.joined_members > bound.members || (r.joined_members === bound.members && r.room_id > bound.roomId))
    .slice(0, limit + 1);
}

function page(all: R[], token: string | undefined, limit: number) {
  const bound = token ? decodeDirectoryToken(token) : undefined;
  return directoryPage(query(all, bound, limit), limit, bound);
}

const rooms: R[] = [
  { room_id: "!a", joined_members: 5 },
  { room_id: "!b", joined_members: 5 },
  { room_id: "!c", joined_members: 9 },
  { room_id: "!d", joined_members: 1 },
  { room_id: "!e", joined_members: 3 },
];

describe("public room directory paging", () => {
  it("tokens round-trip and bad tokens are M_INVALID_PARAM", () => {
    const b = { members: 5, roomId: "!x:y", forward: false };
    expect(decodeDirectoryToken(encodeDirectoryToken(b))).toEqual(b);
    for (const t of ["", "!!!", "bm9wZQ", encodeDirectoryToken({ members: -1, roomId: "", forward: true })]) {
      expect(() => decodeDirectoryToken(t)).toThrow(MatrixError);
    }
  });

  it("limit: 0 or absent means the maximum; negative is refused", () => {
    expect(pageLimit(undefined)).toBe(MAX_PUBLIC_ROOMS_PAGE);
    expect(pageLimit(0)).toBe(MAX_PUBLIC_ROOMS_PAGE);
    expect(pageLimit(1000)).toBe(MAX_PUBLIC_ROOMS_PAGE);
    expect(pageLimit(2)).toBe(2);
    expect(() => pageLimit(-1)).toThrow(MatrixError);
  });

  it("pages forward largest first, then back with prev_batch", () => {
    const p1 = page(rooms, undefined, 2);
    expect(p1.rooms.map((r) => r.room_id)).toEqual(["!c", "!b"]);
    expect(p1.prev_batch).toBeUndefined();
    const p2 = page(rooms, p1.next_batch, 2);
    expect(p2.rooms.map((r) => r.room_id)).toEqual(["!a", "!e"]);
    const p3 = page(rooms, p2.next_batch, 2);
    expect(p3.rooms.map((r) => r.room_id)).toEqual(["!d"]);
    expect(p3.next_batch).toBeUndefined();
    const back = page(rooms, p3.prev_batch, 2);
    expect(back.rooms.map((r) => r.room_id)).toEqual(["!a", "!e"]);
    const back2 = page(rooms, back.prev_batch, 2);
    expect(back2.rooms.map((r) => r.room_id)).toEqual(["!c", "!b"]);
    expect(back2.prev_batch).toBeUndefined();
    expect(page(rooms, back2.next_batch, 2).rooms.map((r) => r.room_id)).toEqual(["!a", "!e"]);
  });

  it("an exact last page has no next_batch; an empty page after a token still points back", () => {
    const all = page(rooms, undefined, 5);
    expect(all.rooms).toHaveLength(5);
    expect(all.next_batch).toBeUndefined();
    const empty = page(rooms, encodeDirectoryToken({ members: 0, roomId: "", forward: true }), 5);
    expect(empty.rooms).toEqual([]);
    expect(page(rooms, empty.prev_batch, 2).rooms.map((r) => r.room_id)).toEqual(["!e", "!d"]);
  });

  it("builds keyset SQL for each direction", () => {
    expect(boundClause(undefined, "m", "r")).toEqual({ where: "1", params: [], order: "m DESC, r DESC" });
    expect(boundClause({ members: 3, roomId: "!x", forward: true }, "m", "r")).toEqual({ where: "(m, r) < (?, ?)", params: [3, "!x"], order: "m DESC, r DESC" });
    expect(boundClause({ members: 3, roomId: "!x", forward: false }, "m", "r").order).toBe("m ASC, r ASC");
  });
});
