import { Decimal } from '@ccx/core';
import { LedgerError } from './ledger-errors.js';
import { namedRows, namedSql, rows } from './sql.js';
import type { AccountStatement, Balance, EntryPage, HistoryEntry, HistoryPage, SqlRunner, VerifyReport } from './types.js';

const MAX_PAGE = 500;

/** Current balances (sums over shards) of the given accounts; unknown ids are absent. */
export async function readBalances(runner: SqlRunner, accountIds: string[]): Promise<Map<string, Balance>> {
  const found = await namedRows<{ account_id: string; posted: string; held: string }>(
    runner,
    namedSql('read_balances', `SELECT account_id::text AS account_id, sum(posted)::text AS posted, sum(held)::text AS held
     FROM ledger_balances WHERE account_id = ANY($1::bigint[]) GROUP BY account_id`),
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
  const found = await namedRows<{ account_id: string; posted: string; held: string }>(
    runner,
    namedSql('lock_balances', `SELECT account_id::text AS account_id, posted::text AS posted, held::text AS held FROM ledger_balances
     WHERE account_id = ANY($1::bigint[]) AND shard = 0 ORDER BY account_id FOR UPDATE`),
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

interface HistoryRow {
  id: string;
  transaction_id: string;
  kind: string;
  metadata: Record<string, unknown> | null;
  amount: string;
  effective_at: Date;
  after: string;
}

function toHistoryEntry(r: HistoryRow): HistoryEntry {
  return {
    id: r.id,
    transactionId: r.transaction_id,
    kind: r.kind,
    metadata: r.metadata ?? {},
    amount: new Decimal(r.amount),
    balanceAfter: new Decimal(r.after),
    effectiveAt: new Date(r.effective_at),
  };
}

const ENTRY_ID = /^[1-9][0-9]{0,17}$/;

/**
 * An account's entries newest first, in business time: (effective_at, id) descending — servicing
 * may post at an instant earlier than entries already written, so the id alone is not the order
 * of events. Each entry carries its transaction's kind and metadata and the account's posted
 * balance right after it in that order. `before` is an entry id of this account (a cursor).
 */
export async function readHistory(
  runner: SqlRunner,
  accountId: string,
  page: { before?: string | null; limit?: number } = {},
): Promise<HistoryPage> {
  const limit = Math.min(Math.max(page.limit ?? 50, 1), MAX_PAGE);
  const before = page.before ?? null;
  if (before !== null && !ENTRY_ID.test(before)) throw new LedgerError('INVALID_TRANSACTION', 'before must be an entry cursor');
  const [{ total }] = await rows<{ total: string }>(runner, `SELECT count(*)::text AS total FROM ledger_entries WHERE account_id = $1`, [accountId]);
  const found = await rows<HistoryRow>(
    runner,
    `WITH cursor AS (
       SELECT effective_at, id FROM ledger_entries WHERE id = $2::bigint AND account_id = $1
     ), page AS (
       SELECT e.id, e.transaction_id, e.amount, e.effective_at FROM ledger_entries e
        WHERE e.account_id = $1
          AND ($2::bigint IS NULL OR (e.effective_at, e.id) < (SELECT effective_at, id FROM cursor))
        ORDER BY e.effective_at DESC, e.id DESC LIMIT $3
     ), top AS (
       SELECT effective_at, id FROM page ORDER BY effective_at DESC, id DESC LIMIT 1
     ), base AS (
       SELECT coalesce(sum(e.amount), 0) AS total FROM ledger_entries e, top
        WHERE e.account_id = $1 AND (e.effective_at, e.id) <= (top.effective_at, top.id)
     )
     SELECT p.id::text AS id, p.transaction_id::text AS transaction_id, t.kind, t.metadata, p.amount::text AS amount, p.effective_at,
       ((SELECT total FROM base) - coalesce(sum(p.amount) OVER (ORDER BY p.effective_at DESC, p.id DESC
          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0))::text AS after
     FROM page p JOIN ledger_transactions t ON t.id = p.transaction_id
     ORDER BY p.effective_at DESC, p.id DESC`,
    [accountId, before, limit + 1],
  );
  if (before !== null && !found.length) {
    const [known] = await rows(runner, `SELECT 1 FROM ledger_entries WHERE id = $1::bigint AND account_id = $2`, [before, accountId]);
    if (!known) throw new LedgerError('INVALID_TRANSACTION', 'before is not an entry of this account');
  }
  // The window sum runs over the fetched rows, the extra one included; it is the oldest, so the
  // balances of the others do not depend on it.
  return { entries: found.slice(0, limit).map(toHistoryEntry), hasMore: found.length > limit, total: Number(total) };
}

/**
 * The statement of an account over [from, to) in business time (effective_at): the posted
 * balance before `from`, every entry oldest first with the balance after it, and the balance at
 * the end (before `to`), all from the entries themselves.
 */
export async function readStatement(runner: SqlRunner, accountId: string, from: Date, to: Date): Promise<AccountStatement> {
  const [{ opening }] = await rows<{ opening: string }>(
    runner,
    `SELECT coalesce(sum(amount), 0)::text AS opening FROM ledger_entries WHERE account_id = $1 AND effective_at < $2`,
    [accountId, from],
  );
  const found = await rows<HistoryRow>(
    runner,
    `SELECT e.id::text AS id, e.transaction_id::text AS transaction_id, t.kind, t.metadata, e.amount::text AS amount, e.effective_at,
       ($4::numeric + sum(e.amount) OVER (ORDER BY e.effective_at, e.id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))::text AS after
     FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
     WHERE e.account_id = $1 AND e.effective_at >= $2 AND e.effective_at < $3
     ORDER BY e.effective_at, e.id`,
    [accountId, from, to, opening],
  );
  const [{ closing }] = await rows<{ closing: string }>(
    runner,
    `SELECT coalesce(sum(amount), 0)::text AS closing FROM ledger_entries WHERE account_id = $1 AND effective_at < $2`,
    [accountId, to],
  );
  return { openingBalance: new Decimal(opening), entries: found.map(toHistoryEntry), closingBalance: new Decimal(closing) };
}
