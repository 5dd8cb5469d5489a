import { Decimal } from '@ccx/core';
import { blockAccountCode, facilityDebtAccountCode, facilityReceivableAccountCode, platformAccountCode, walletAccountCode } from '../../apps/api/src/ledger/chart-of-accounts.js';
import type { TestApp } from './app.js';
import type { Org } from './drivers/organizations.js';

/**
 * Reads straight from a test app's database, not through the API, so specs can reconcile what
 * the API shows against the ledger and check that a refused request changed nothing.
 */
/** The posted balance of a ledger account by code (sum over its shards); 0 when it does not exist. */
export async function ledgerBalance(t: TestApp, code: string): Promise<Decimal> {
  const [row] = await t.db.dataSource.query(
    `SELECT coalesce(sum(b.posted), 0)::text AS posted FROM ledger_accounts a LEFT JOIN ledger_balances b ON b.account_id = a.id WHERE a.code = $1`,
    [code],
  );
  return new Decimal(row?.posted ?? '0');
}

export const walletCode = (org: Org | string) => walletAccountCode(typeof org === 'string' ? org : org.id);
export const REVENUE = platformAccountCode('revenue');
export const EXPIRED_CREDITS = platformAccountCode('expired');

/** Balances of several accounts at once, keyed by code. */
export async function ledgerBalances(t: TestApp, codes: string[]): Promise<Record<string, Decimal>> {
  const out: Record<string, Decimal> = {};
  for (const code of codes) out[code] = await ledgerBalance(t, code);
  return out;
}

export async function ledgerTransactionCount(t: TestApp): Promise<number> {
  const [row] = await t.db.dataSource.query(`SELECT count(*)::int AS n FROM ledger_transactions`);
  return row.n;
}

/**
 * Everything a failed request must leave untouched: every ledger account's balance, the number
 * of ledger transactions and entries, listings' allocation, blocks, purchases, reservations and
 * allocations. Compare two snapshots with toEqual.
 */
export async function marketState(t: TestApp): Promise<Record<string, unknown>> {
  const q = (sql: string) => t.db.dataSource.query(sql);
  const [counts] = await q(
    `SELECT (SELECT count(*)::int FROM ledger_transactions) AS transactions,
            (SELECT count(*)::int FROM ledger_entries) AS entries,
            (SELECT count(*)::int FROM ledger_accounts) AS accounts,
            (SELECT count(*)::int FROM credit_blocks) AS blocks,
            (SELECT count(*)::int FROM purchases) AS purchases,
            (SELECT count(*)::int FROM allocations) AS allocations`,
  );
  const balances = await q(
    `SELECT a.code, sum(b.posted)::text AS posted, sum(b.held)::text AS held FROM ledger_accounts a JOIN ledger_balances b ON b.account_id = a.id GROUP BY a.code ORDER BY a.code`,
  );
  const listings = await q(`SELECT id, status, allocated_credits::text AS allocated, withdrawn_credits::text AS withdrawn FROM listings ORDER BY id`);
  const blocks = await q(`SELECT id, status FROM credit_blocks ORDER BY id`);
  const reservations = await q(
    `SELECT id, status, months_delivered, next_delivery_at, early_termination_fee::text AS fee FROM reservations ORDER BY id`,
  );
  const allocations = await q(`SELECT id, delivered::text AS delivered, released::text AS released FROM allocations ORDER BY id`);
  return { counts, balances, listings, blocks, reservations, allocations };
}

export const CONSUMED = platformAccountCode('consumed');
export const blockAccount = blockAccountCode;

/** The buyer's stored usage events (what was charged, at which rate), oldest first. */
export async function usageEventsOf(t: TestApp, org: Org | string): Promise<any[]> {
  return t.db.dataSource.query(
    `SELECT event_id, model, input_tokens::text AS input_tokens, output_tokens::text AS output_tokens, gpu_type, gpu_seconds::text AS gpu_seconds,
       input_rate::text AS input_rate, output_rate::text AS output_rate, credits_per_gpu_hour::text AS credits_per_gpu_hour,
       credits::text AS credits, occurred_at, hold_id
     FROM usage_events WHERE organization_id = $1 ORDER BY id`,
    [typeof org === 'string' ? org : org.id],
  );
}

export const receivableCode = facilityReceivableAccountCode;
export const debtCode = facilityDebtAccountCode;
export const blockCode = blockAccountCode;
export const TREASURY = platformAccountCode('treasury');
export const INVENTORY = platformAccountCode('inventory');

/** The facility's ledger pair: the receivable equals the outstanding principal, the debt its negative. */
export async function facilityLedger(t: TestApp, facilityId: string): Promise<{ receivable: string; debt: string }> {
  return {
    receivable: (await ledgerBalance(t, receivableCode(facilityId))).toFixed(2),
    debt: (await ledgerBalance(t, debtCode(facilityId))).toFixed(2),
  };
}

/** marketState plus every financing table: what a refused request must leave untouched. */
export async function financingState(t: TestApp): Promise<Record<string, unknown>> {
  const q = (sql: string) => t.db.dataSource.query(sql);
  return {
    market: await marketState(t),
    facilities: await q(
      `SELECT id, status, accepted_at, block_id, default_sticky, recovered_amount::text, charged_off_amount::text FROM facilities ORDER BY id`,
    ),
    installments: await q(`SELECT facility_id, number, principal_paid::text, interest_paid::text FROM installments ORDER BY facility_id, number`),
    repayments: await q(`SELECT id FROM repayments ORDER BY id`),
    recoveries: await q(`SELECT id FROM recoveries ORDER BY id`),
    freezeEvents: await q(`SELECT id FROM freeze_events ORDER BY id`),
  };
}

/** Tables a spec counts rows of; a name outside this list does not compile. */
export type CountedTable = 'repayments' | 'credit_blocks' | 'installments' | 'recoveries' | 'freeze_events' | 'purchases' | 'allocations' | 'usage_events' | 'usage_holds';

/**
 * Rows of `table` whose columns equal the given values, e.g. `count(t, 'repayments', { facility_id: id })`.
 * Values are bound parameters; column names must be plain identifiers (they cannot be bound).
 */
export async function count(t: TestApp, table: CountedTable, where: Record<string, string | number | boolean> = {}): Promise<number> {
  const columns = Object.keys(where);
  for (const column of columns) if (!/^[a-z_][a-z0-9_]*$/.test(column)) throw new Error(`count: ${JSON.stringify(column)} is not a column name`);
  const condition = columns.length ? columns.map((column, i) => `"${column}" = $${i + 1}`).join(' AND ') : 'true';
  const [row] = await t.db.dataSource.query(`SELECT count(*)::int AS n FROM "${table}" WHERE ${condition}`, Object.values(where));
  return row.n;
}
