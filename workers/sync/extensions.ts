import { e2eeSyncExtension } from "../e2ee/sync-extension.js";
import { accountDataSyncExtension } from "../account-data/sync-extension.js";
import { presenceSyncExtension } from "../presence/sync-extension.js";
import { pushRulesSyncExtension, unreadCountsFinisher } from "../push/sync-unread.js";
import type { SyncExtension, SyncFinisher } from "./context.js";
import { ephemeralSyncExtension } from "./ephemeral.js";

/**
 * Every module that contributes to /sync, in order. Each returns its own part of
 * the response; the sync engine merges them (see workers/sync/sync.ts).
 */
export const SYNC_EXTENSIONS: SyncExtension[] = [e2eeSyncExtension, ephemeralSyncExtension, accountDataSyncExtension, presenceSyncExtension, pushRulesSyncExtension];

/** Fields for the joined rooms in the response, read beside the extensions (see SyncFinisher). */
export const SYNC_FINISHERS: SyncFinisher[] = [unreadCountsFinisher];
