/**
 * What Cloudflare bills, counted inside the bench's probe (scripts/bench/probe-worker.ts)
 * for `npm run bench -- cost`: Worker requests; Durable Object requests (HTTP, RPC
 * calls, alarms, WebSocket events) and active time per object; D1 and Durable
 * Object SQLite rows; R2 class A and B operations. Measurement only: production
 * code never sees it (the probe exports subclasses of the real Durable Objects).
 *
 * Active time follows the pricing page's rule (../shared/design PLATFORM.md §2.7):
 * an object is billed while it runs a request, an alarm or a WebSocket event, or
 * while work it handed to `ctx.waitUntil` is pending; an idle object that could
 * hibernate is not billed. Per object, the union of those intervals is summed.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../../services/env.js";
import { countingD1, newTally } from "./d1-counter.js";

export interface CostCounts {
  workerRequests: number;
  d1: { statements: number; rowsRead: number; rowsWritten: number };
  /** Per Durable Object class. */
  durableObjects: Record<
    string,
    { requests: number; webSocketEvents: number; activeMs: number; instances: number; sqlRowsRead: number; sqlRowsWritten: number; byMethod: Record<string, number> }
  >;
  r2: { classA: number; classB: number; free: number };
}

let d1 = newTally();
let counts: CostCounts = fresh();

function fresh(): CostCounts {
  return { workerRequests: 0, d1: { statements: 0, rowsRead: 0, rowsWritten: 0 }, durableObjects: {}, r2: { classA: 0, classB: 0, free: 0 } };
}

export function resetCosts(): void {
  d1 = newTally();
  counts = fresh();
}

export function costs(): CostCounts {
  return { ...counts, d1: { statements: d1.statements, rowsRead: d1.rowsRead, rowsWritten: d1.rowsWritten } };
}

export function countWorkerRequest(): void {
  counts.workerRequests++;
}

/** The D1 binding, counted into the global tally (the probe wraps it again for its per-request headers). */
export function meteredD1(db: D1Database): D1Database {
  // The global tally keeps no statement list: a day of traffic would hold every SQL string.
  return countingD1(db, () => {
    d1.queries.length = 0;
    return d1;
  });
}

const R2_CLASS_A = new Set(["put", "list", "createMultipartUpload", "uploadPart", "complete"]);
const R2_CLASS_B = new Set(["get", "head"]);

/** R2 operations by pricing class (PLATFORM.md §4): writes and lists are class A, reads class B, deletes free. */
export function meteredR2<T extends object>(target: T): T {
  return new Proxy(target, {
    get(t, prop) {
      const v = Reflect.get(t, prop) as unknown;
      if (typeof v !== "function") return v;
      const name = String(prop);
      return (...args: unknown[]) => {
        if (R2_CLASS_A.has(name)) counts.r2.classA++;
        else if (R2_CLASS_B.has(name)) counts.r2.classB++;
        else if (name !== "abort" && name !== "resumeMultipartUpload") counts.r2.free++;
        const out = (v as (...a: unknown[]) => unknown).apply(t, args);
        // A multipart upload's parts are billed as their own class A operations.
        if (name === "createMultipartUpload" || name === "resumeMultipartUpload") {
          return Promise.resolve(out).then((u) => meteredR2(u as object));
        }
        return out;
      };
    },
  });
}

export function meteredEnv(env: Env): Env {
  return { ...env, DB: meteredD1(env.DB), MEDIA: meteredR2(env.MEDIA) };
}

/** Per object: open intervals and the rows of the SQL cursors it opened. */
interface Activity {
  open: number;
  since: number;
  cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[];
}

function classCounts(name: string) {
  return (counts.durableObjects[name] ??= { requests: 0, webSocketEvents: 0, activeMs: 0, instances: 0, sqlRowsRead: 0, sqlRowsWritten: 0, byMethod: {} });
}

function enter(a: Activity): void {
  if (a.open++ === 0) a.since = Date.now();
}

function leave(a: Activity, className: string): void {
  if (--a.open > 0) return;
  const c = classCounts(className);
  c.activeMs += Date.now() - a.since;
  for (const cur of a.cursors) {
    c.sqlRowsRead += cur.rowsRead;
    c.sqlRowsWritten += cur.rowsWritten;
  }
  a.cursors.length = 0;
}

function track<T>(a: Activity, className: string, run: () => T): T {
  enter(a);
  let out: T;
  try {
    out = run();
  } catch (e) {
    leave(a, className);
    throw e;
  }
  if (out instanceof Promise) {
    return out.finally(() => leave(a, className)) as T;
  }
  leave(a, className);
  return out;
}

/** The object whose request the current code runs in. */
const inside = new AsyncLocalStorage<object>();

const HIBERNATION_EVENTS = new Set(["webSocketMessage", "webSocketClose", "webSocketError"]);

/**
 * A subclass of a Durable Object class that counts its requests and active time,
 * and the rows of its SQLite and D1 use. Its methods call the real ones.
 */
// A mixin's base must take any[] (TypeScript's rule for classes built from a class).
export function meteredDurableObject<C extends new (...args: any[]) => DurableObject<Env>>(Base: C, className: string): C {
  const activities = new WeakMap<object, Activity>();
  const activityOf = (self: object): Activity => {
    let a = activities.get(self);
    if (!a) {
      a = { open: 0, since: 0, cursors: [] };
      activities.set(self, a);
    }
    return a;
  };
  const Metered = class extends Base {
    // A mixin's constructor must take any[].
    constructor(...args: any[]) {
      const [ctx, env] = args as [DurableObjectState, Env];
      const holder: { self?: object } = {};
      // The runtime accepts only its own DurableObjectState: the meter patches the instance in place.
      const storage = ctx.storage;
      const realSql = storage.sql;
      const sql = new Proxy(realSql, {
        get(t, prop) {
          const v = Reflect.get(t, prop) as unknown;
          if (prop === "exec") {
            return (query: string, ...bindings: SqlStorageValue[]) => {
              const cur = t.exec(query, ...bindings);
              if (holder.self) activityOf(holder.self).cursors.push(cur);
              return cur;
            };
          }
          return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(t) : v;
        },
      });
      Object.defineProperty(storage, "sql", { value: sql, configurable: true });
      // setAlarm/deleteAlarm are billed as a row written.
      for (const name of ["setAlarm", "deleteAlarm"] as const) {
        const real = storage[name].bind(storage) as (...a: unknown[]) => Promise<void>;
        Object.defineProperty(storage, name, {
          configurable: true,
          value: (...a: unknown[]) => {
            classCounts(className).sqlRowsWritten++;
            return real(...a);
          },
        });
      }
      const realWaitUntil = ctx.waitUntil.bind(ctx);
      Object.defineProperty(ctx, "waitUntil", {
        configurable: true,
        // Pending waitUntil work keeps the object from hibernating: it is billed time.
        value: (p: Promise<unknown>) => {
          const self = holder.self;
          if (self) track(activityOf(self), className, () => p.catch(() => {}));
          return realWaitUntil(p);
        },
      });
      super(ctx, meteredEnv(env));
      holder.self = this;
      classCounts(className).instances++;
    }
  };
  const seen = new Set<string>(["constructor"]);
  for (let proto = Base.prototype as object; proto && proto !== DurableObject.prototype && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const desc = Object.getOwnPropertyDescriptor(proto, name);
      if (seen.has(name) || !desc || typeof desc.value !== "function") continue;
      seen.add(name);
      const real = desc.value as (...a: unknown[]) => unknown;
      Object.defineProperty(Metered.prototype, name, {
        configurable: true,
        writable: true,
        value: function (this: object, ...a: unknown[]) {
          // A method the object calls on itself is part of the request it serves, not a request.
          if (inside.getStore() === this) return real.apply(this, a);
          const c = classCounts(className);
          if (HIBERNATION_EVENTS.has(name)) c.webSocketEvents++;
          else c.requests++;
          c.byMethod[name] = (c.byMethod[name] ?? 0) + 1;
          return track(activityOf(this), className, () => inside.run(this, () => real.apply(this, a)));
        },
      });
    }
  }
  return Metered;
}

