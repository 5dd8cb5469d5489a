import { Ledger1763700000000 } from '../migrations/1763700000000-ledger.js';
import { LedgerPostFunction1763700000006 } from '../migrations/1763700000006-ledger-post-function.js';
import { LedgerPostOne1763700000016 } from '../migrations/1763700000016-ledger-post-one.js';
import { LedgerHoldsBulk1763700000018 } from '../migrations/1763700000018-ledger-holds-bulk.js';
import { LedgerGrowShards1763700000020 } from '../migrations/1763700000020-ledger-grow-shards.js';
import { LedgerGenericPlans1763700000021 } from '../migrations/1763700000021-ledger-generic-plans.js';
import { LedgerPostedId1763700000022 } from '../migrations/1763700000022-ledger-posted-id.js';

/**
 * The ledger's own schema: its tables, triggers and posting functions belong to this library,
 * so they ship with it. The app interleaves them by timestamp with its own migrations
 * (migrations/index.ts); their class names and `name`s are what databases that already ran
 * them recorded in their `migrations` table, so they never change.
 */
export { Ledger1763700000000, LedgerPostFunction1763700000006, LedgerPostOne1763700000016, LedgerHoldsBulk1763700000018, LedgerGrowShards1763700000020, LedgerGenericPlans1763700000021, LedgerPostedId1763700000022 };

/** The ledger's migrations in order, for a database that holds the ledger alone (its tests). */
export const ledgerMigrations = [Ledger1763700000000, LedgerPostFunction1763700000006, LedgerPostOne1763700000016, LedgerHoldsBulk1763700000018, LedgerGrowShards1763700000020, LedgerGenericPlans1763700000021, LedgerPostedId1763700000022];
