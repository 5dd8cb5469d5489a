import type { EntityManager } from 'typeorm';
import { namedRows } from '@ccx/ledger';

const LOCK = { name: 'ccx_credits_buyer_lock', text: `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))` };

/**
 * Serializes everything that changes what a buyer can spend: usage events and holds, freezes,
 * unfreezes, recoveries and block expiry. A transaction-level advisory lock per buyer.
 *
 * Lock order, everywhere: facility row → installments → this lock → credit block rows → ledger
 * balance rows. Usage takes this lock first and never touches facilities, so none can deadlock.
 */
export async function lockBuyerCredits(manager: EntityManager, organizationId: string): Promise<void> {
  // A named statement: metering takes this lock on every charge.
  await namedRows(manager, LOCK, [`usage:${organizationId}`]);
}
