import { e2eeSyncExtension } from "../e2ee/sync-extension.js";
import { accountDataSyncExtension } from "../account-data/sync-extension.js";
import { presenceSyncExtension } from "../presence/sync-extension.js";
import type { SyncExtension } from "./context.js";
import { ephemeralSyncExtension } from "./ephemeral.js";

/**
 * Every module that contributes to /sync, in order. Each returns its own part of
 * the response; the sync engine merges them (see workers/sync/sync.ts).
 */
export const SYNC_EXTENSIONS: SyncExtension[] = [e2eeSyncExtension, ephemeralSyncExtension, accountDataSyncExtension, presenceSyncExtension];
