import type { SyncExtension } from "./context.js";

/**
 * Every module that contributes to /sync, in order. Each returns its own part of
 * the response; the sync engine merges them (see workers/sync/sync.ts).
 */
export const SYNC_EXTENSIONS: SyncExtension[] = [];
