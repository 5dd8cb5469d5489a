import { Decimal } from '@ccx/core';
import { LedgerError } from './ledger-errors.js';
import { rows } from './sql.js';
import type { Balance, EntryPage, SqlRunner, VerifyReport } from './types.js';

const MAX_PAGE = 500;

/** Current balances (sums over shards) of the given accounts; unknown ids are absent. */
export async function readBalances(runner: SqlRunner, accountIds: string[]): Promise<Map<string, Balance>> {
  const found = await rows<{ account_id: string; posted: string; held: string }>(
    runner,
    `SELECT account_id::text AS account_id, sum(posted)::text AS posted, sum(held)::text AS held
     FROM ledger_balances WHERE account_id = ANY($1::bigint[]) GROUP BY account_id`,
    [accountIds.filter((id) => /^[1-9][0-9]{0,17}$/.test(id))],
  );
  return new Map(
    found.map((r) => {
      const posted = new Decimal(r.posted);
      const held = new Decimal(r.held);
      return [r.account_id, { accountId: r.account_id, posted, held, available: posted.minus(held) }];
    }),
  );
}

/**
 * Locks the balance rows of limited (unsharded) accounts in id order — the ledger's lock order —
 * and returns their balances. For callers that must decide postings from balances that cannot
 * change underneath them (usage burn-down); a later `post` in the same transaction re-locks
 * them at no cost.
 */
export async function lockBalances(runner: SqlRunner, accountIds: string[]): Promise<Map<string, Balance>> {
  const ids = [...new Set(accountIds.filter((id) => /^[1-9][0-9]{0,17}$/.test(id)))];
  if (!ids.length) return new Map();
  const found = await rows<{ account_id: string; posted: string; held: string }>(
    runner,
    `SELECT account_id::text AS account_id, posted::text AS posted, held::text AS held FROM ledger_balances
     WHERE account_id = ANY($1::bigint[]) AND shard = 0 ORDER BY account_id FOR UPDATE`,
    [ids],
  );
  return new Map(
    found.map((r) => {
      const posted = new Decimal(r.posted);
      const held = new Decimal(r.held);
      return [r.account_id, { accountId: r.account_id, posted, held, available: posted.minus(held) }];
    }),
  );
}

/** The posted balance as of `at` (entries effective at or before it). */
export async function readBalanceAt(runner: SqlRunner, accountId: string, at: Date): Promise<Decimal> {
  const [r] = await rows<{ total: string }>(
    runner,
    `SELECT coalesce(sum(amount), 0)::text AS total FROM ledger_entries WHERE account_id = $1 AND effective_at <= $2`,
    [accountId, at],
  );
  return new Decimal(r.total);
}

/** An account's entries, oldest first, each with the balance before and after it. */
export async function readEntries(
  runner: SqlRunner,
  accountId: string,
  page: { first?: number; after?: string | null } = {},
): Promise<EntryPage> {
  const first = Math.min(Math.max(page.first ?? 50, 1), MAX_PAGE);
  const after = page.after ?? '0';
  if (!/^[0-9]{1,18}$/.test(after)) throw new LedgerError('INVALID_TRANSACTION', 'after must be an entry cursor');
  const found = await rows<{ id: string; transaction_id: string; kind: string; amount: string; effective_at: Date; before: string }>(
    runner,
    `WITH base AS (
       SELECT coalesce(sum(amount), 0) AS total FROM ledger_entries WHERE account_id = $1 AND id <= $2
     ), page AS (
       SELECT e.id, e.transaction_id, t.kind, e.amount, e.effective_at
       FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
       WHERE e.account_id = $1 AND e.id > $2 ORDER BY e.id LIMIT $3
     )
     SELECT id::text AS id, transaction_id::text AS transaction_id, kind, amount::text AS amount, effective_at,
       ((SELECT total FROM base) + coalesce(sum(amount) OVER (ORDER BY page.id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0))::text AS before
     FROM page ORDER BY page.id`,
    [accountId, after, first + 1],
  );
  const hasNextPage = found.length > first;
  const entries = found.slice(0, first).map((r) => {
    const before = new Decimal(r.before);
    const amount = new Decimal(r.amount);
    return {
      id: r.id,
      transactionId: r.transaction_id,
      kind: r.kind,
      amount,
      balanceBefore: before,
      balanceAfter: before.plus(amount),
      effectiveAt: new Date(r.effective_at),
    };
  });
  return { entries, hasNextPage, endCursor: entries.length ? entries[entries.length - 1].id : null };
}

/**
 * Checks the invariants of SPEC §10 on one consistent snapshot (the caller should run it in a
 * REPEATABLE READ transaction): per asset all balances sum to zero; every transaction balances
 * per asset; each stored balance equals the sum of its entries; held equals the open holds;
 * no limited account is past its limit.
 */
export async function verifyLedger(runner: SqlRunner): Promise<VerifyReport> {
  const problems: string[] = [];
  const assets = await rows<{ asset: string; total: string }>(
    runner,
    `SELECT a.asset, sum(b.posted)::text AS total FROM ledger_balances b JOIN ledger_accounts a ON a.id = b.account_id
     GROUP BY a.asset HAVING sum(b.posted) <> 0`,
  );
  for (const r of assets) problems.push(`asset ${r.asset}: balances sum to ${r.total}, not 0`);

  const unbalanced = await rows<{ transaction_id: string; asset: string }>(
    runner,
    `SELECT transaction_id::text AS transaction_id, asset FROM ledger_entries GROUP BY transaction_id, asset
     HAVING sum(amount) <> 0 LIMIT 20`,
  );
  for (const r of unbalanced) problems.push(`transaction ${r.transaction_id}: ${r.asset} entries do not balance`);

  const drift = await rows<{ account_id: string; stored: string; entries: string; held: string; holds: string }>(
    runner,
    `WITH s AS (SELECT account_id, sum(posted) AS posted, sum(held) AS held FROM ledger_balances GROUP BY account_id),
          e AS (SELECT account_id, sum(amount) AS total FROM ledger_entries GROUP BY account_id),
          h AS (SELECT debit_account_id AS account_id, sum(amount) AS total FROM ledger_holds
                WHERE status = 'PENDING' GROUP BY debit_account_id)
     SELECT s.account_id::text AS account_id, s.posted::text AS stored, coalesce(e.total, 0)::text AS entries,
            s.held::text AS held, coalesce(h.total, 0)::text AS holds
     FROM s LEFT JOIN e ON e.account_id = s.account_id LEFT JOIN h ON h.account_id = s.account_id
     WHERE s.posted <> coalesce(e.total, 0) OR s.held <> coalesce(h.total, 0) LIMIT 20`,
  );
  for (const r of drift) {
    problems.push(`account ${r.account_id}: stored ${r.stored} / held ${r.held}, entries ${r.entries} / holds ${r.holds}`);
  }

  const limits = await rows<{ account_id: string }>(
    runner,
    `SELECT a.id::text AS account_id FROM ledger_accounts a
     JOIN (SELECT account_id, sum(posted) AS posted, sum(held) AS held FROM ledger_balances GROUP BY account_id) b
       ON b.account_id = a.id
     WHERE (NOT a.allow_negative AND b.posted - b.held < 0) OR (NOT a.allow_positive AND b.posted > 0) LIMIT 20`,
  );
  for (const r of limits) problems.push(`account ${r.account_id}: past its limit`);

  const [counts] = await rows<{ accounts: string; transactions: string }>(
    runner,
    `SELECT (SELECT count(*) FROM ledger_accounts)::text AS accounts, (SELECT count(*) FROM ledger_transactions)::text AS transactions`,
  );
  return {
    balanced: problems.length === 0,
    accountsChecked: Number(counts.accounts),
    transactionsChecked: Number(counts.transactions),
    problems,
  };
}
