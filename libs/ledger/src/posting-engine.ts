import { createHash, randomInt } from 'node:crypto';
import { AmountParseError, Decimal, parseAmount } from '@ccx/core';
import type { AccountRegistry } from './accounts.js';
import { LedgerError, LedgerRetryableError } from './ledger-errors.js';
import { canonicalJson, rows } from './sql.js';
import type { Account, SqlRunner, TransactionInput } from './types.js';

/** Held amount released on an account by the same transaction (posting a hold). */
export interface HeldRelease {
  accountId: string;
  amount: Decimal;
}

export type Outcome =
  | { status: 'accepted'; transactionId: string }
  | { status: 'duplicate'; transactionId: string }
  | { status: 'rejected'; error: LedgerError };

interface Leg {
  account: Account;
  /** + credit, − debit, at the asset's scale. */
  amount: Decimal;
}

interface Prepared {
  input: TransactionInput;
  hash: string;
  legs: Leg[];
  release?: HeldRelease;
  error?: LedgerError;
}

interface Cell {
  accountId: string;
  shard: number;
  posted: Decimal;
  held: Decimal;
}

const MAX_KEY = 200;
/** Enough for a fill across hundreds of listings or a usage batch across many blocks. */
const MAX_POSTINGS = 1000;

/**
 * Validates, locks, checks limits and writes any number of independent transactions in one
 * database transaction with a constant number of statements: one read of existing keys, one
 * ordered `SELECT … FOR UPDATE` of every balance row involved, one write (transactions,
 * entries and aggregated balance deltas in a single statement).
 *
 * Lock order: balance rows sorted by (account id, shard). Every path of the ledger locks balance
 * rows only here (or, for holds, after the hold row), so ledger writers cannot deadlock each other.
 */
export class PostingEngine {
  constructor(
    private readonly accounts: AccountRegistry,
    /** Told how many transactions each write inserted (metrics); they may still roll back. */
    private readonly onWritten?: (count: number) => void,
  ) {}

  async apply(runner: SqlRunner, inputs: TransactionInput[], releases: (HeldRelease | undefined)[] = []): Promise<Outcome[]> {
    const ids = inputs.flatMap((i) => (Array.isArray(i?.postings) ? i.postings.map((p) => String(p?.accountId)) : []));
    const known = await this.accounts.load(runner, ids);
    const prepared = inputs.map((input, i) => prepare(input, known, releases[i]));

    const keys = [...new Set(prepared.filter((p) => !p.error).map((p) => p.input.idempotencyKey))];
    const existing = new Map<string, { id: string; hash: string }>();
    if (keys.length) {
      const found = await rows<{ id: string; idempotency_key: string; request_hash: string }>(
        runner,
        `SELECT id::text AS id, idempotency_key, request_hash FROM ledger_transactions
         WHERE idempotency_key = ANY($1::text[])`,
        [keys],
      );
      for (const r of found) existing.set(r.idempotency_key, { id: r.id, hash: r.request_hash });
    }

    // One shard per sharded account per batch, so its deltas aggregate into one row update.
    const shardOf = new Map<string, number>();
    const cellKeys = new Map<string, { accountId: string; shard: number }>();
    for (const p of prepared) {
      if (p.error || existing.has(p.input.idempotencyKey)) continue;
      for (const leg of p.legs) {
        let shard = shardOf.get(leg.account.id);
        if (shard === undefined) {
          shard = leg.account.shards > 1 ? randomInt(leg.account.shards) : 0;
          shardOf.set(leg.account.id, shard);
        }
        cellKeys.set(`${leg.account.id}:${shard}`, { accountId: leg.account.id, shard });
      }
      if (p.release) cellKeys.set(`${p.release.accountId}:0`, { accountId: p.release.accountId, shard: 0 });
    }
    const cells = await lockCells(runner, [...cellKeys.values()]);

    const outcomes: Outcome[] = [];
    const firstByKey = new Map<string, { index: number; hash: string }>();
    const accepted: Prepared[] = [];
    const deltas = new Map<string, { posted: Decimal; held: Decimal }>();
    const refusedByLimit: string[] = [];

    prepared.forEach((p, index) => {
      if (p.error) return outcomes.push({ status: 'rejected', error: p.error });
      const key = p.input.idempotencyKey;
      const prior = existing.get(key);
      if (prior) {
        return outcomes.push(
          prior.hash === p.hash ? { status: 'duplicate', transactionId: prior.id } : conflict(key),
        );
      }
      const first = firstByKey.get(key);
      if (first) {
        if (first.hash !== p.hash) return outcomes.push(conflict(key));
        const o = outcomes[first.index];
        // Same key twice in one batch: the second gets the first's outcome (resolved to an id below).
        return outcomes.push(o.status === 'rejected' ? o : { status: 'duplicate', transactionId: `@${key}` });
      }
      firstByKey.set(key, { index, hash: p.hash });

      const violation = checkLimits(p, cells, shardOf);
      if (violation) {
        refusedByLimit.push(key);
        return outcomes.push({ status: 'rejected', error: violation });
      }
      applyToCells(p, cells, shardOf, deltas);
      accepted.push(p);
      outcomes.push({ status: 'accepted', transactionId: `@${key}` });
    });

    if (refusedByLimit.length) {
      // A writer of the same key may have committed while we waited for the balance locks: we
      // then judged its replay as new, against the balance that writer left. If the key exists
      // now, roll back and retry; the retry sees the key and answers "duplicate" (or a conflict).
      const raced = await rows(runner, `SELECT 1 FROM ledger_transactions WHERE idempotency_key = ANY($1::text[]) LIMIT 1`, [
        refusedByLimit,
      ]);
      if (raced.length) throw new LedgerRetryableError('idempotency key raced with a concurrent transaction');
    }

    if (accepted.length) {
      const idByKey = await write(runner, accepted, deltas);
      this.onWritten?.(accepted.length);
      for (const o of outcomes) {
        if (o.status !== 'rejected' && o.transactionId.startsWith('@')) {
          o.transactionId = idByKey.get(o.transactionId.slice(1))!;
        }
      }
    }
    return outcomes;
  }
}

function conflict(key: string): Outcome {
  return {
    status: 'rejected',
    error: new LedgerError(
      'IDEMPOTENCY_CONFLICT',
      `idempotency key ${key} was already used for a different transaction`,
    ),
  };
}

function prepare(input: TransactionInput, known: Map<string, Account>, release?: HeldRelease): Prepared {
  const fail = (error: LedgerError): Prepared => ({ input, hash: '', legs: [], error });
  if (!input || typeof input !== 'object') return fail(new LedgerError('INVALID_TRANSACTION', 'transaction missing'));
  const key = input.idempotencyKey;
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY) {
    return fail(new LedgerError('INVALID_TRANSACTION', `idempotencyKey must be 1 to ${MAX_KEY} characters`));
  }
  if (typeof input.kind !== 'string' || input.kind.length === 0 || input.kind.length > 100) {
    return fail(new LedgerError('INVALID_TRANSACTION', 'kind must be 1 to 100 characters'));
  }
  if (!(input.effectiveAt instanceof Date) || Number.isNaN(input.effectiveAt.getTime())) {
    return fail(new LedgerError('INVALID_TRANSACTION', 'effectiveAt must be a valid instant'));
  }
  if (!Array.isArray(input.postings) || input.postings.length < 2 || input.postings.length > MAX_POSTINGS) {
    return fail(new LedgerError('INVALID_TRANSACTION', `a transaction has 2 to ${MAX_POSTINGS} postings`));
  }
  const legs: Leg[] = [];
  const sums = new Map<string, Decimal>();
  for (const posting of input.postings) {
    const account = known.get(String(posting?.accountId));
    if (!account) {
      return fail(new LedgerError('ACCOUNT_NOT_FOUND', `account ${String(posting?.accountId)} does not exist`, {
        accountId: String(posting?.accountId),
      }));
    }
    if (posting.direction !== 'DEBIT' && posting.direction !== 'CREDIT') {
      return fail(new LedgerError('INVALID_TRANSACTION', 'direction must be DEBIT or CREDIT'));
    }
    let amount: Decimal;
    try {
      const text = typeof posting.amount === 'string' ? posting.amount : toPlain(posting.amount);
      amount = parseAmount(text, { scale: account.scale, field: `amount for account ${account.code}` });
    } catch (e) {
      if (e instanceof AmountParseError) return fail(new LedgerError('INVALID_AMOUNT', e.message, { problem: e.problem }));
      throw e;
    }
    const signed = posting.direction === 'CREDIT' ? amount : amount.negated();
    legs.push({ account, amount: signed });
    sums.set(account.asset, (sums.get(account.asset) ?? new Decimal(0)).plus(signed));
  }
  for (const [asset, sum] of sums) {
    if (!sum.isZero()) {
      return fail(new LedgerError('UNBALANCED', `postings in ${asset} do not balance (off by ${sum.toFixed()})`));
    }
  }
  const hash = createHash('sha256')
    .update(
      canonicalJson({
        kind: input.kind,
        memo: input.memo ?? null,
        metadata: input.metadata ?? {},
        legs: legs.map((l) => [l.account.id, l.amount.toFixed(l.account.scale)]),
        release: release ? [release.accountId, release.amount.toFixed()] : null,
      }),
    )
    .digest('hex');
  return { input, hash, legs, release };
}

/** A Decimal from domain code; a JS number or anything else is refused rather than trusted. */
function toPlain(value: unknown): unknown {
  return Decimal.isBigNumber(value) ? (value as Decimal).toFixed() : value;
}

async function lockCells(runner: SqlRunner, keys: { accountId: string; shard: number }[]): Promise<Map<string, Cell>> {
  const cells = new Map<string, Cell>();
  if (!keys.length) return cells;
  const locked = await rows<{ account_id: string; shard: number; posted: string; held: string }>(
    runner,
    `SELECT b.account_id::text AS account_id, b.shard, b.posted::text AS posted, b.held::text AS held
     FROM ledger_balances b
     JOIN unnest($1::bigint[], $2::smallint[]) AS k(account_id, shard)
       ON b.account_id = k.account_id AND b.shard = k.shard
     ORDER BY b.account_id, b.shard
     FOR UPDATE OF b`,
    [keys.map((k) => k.accountId), keys.map((k) => k.shard)],
  );
  for (const r of locked) {
    cells.set(`${r.account_id}:${r.shard}`, {
      accountId: r.account_id,
      shard: Number(r.shard),
      posted: new Decimal(r.posted),
      held: new Decimal(r.held),
    });
  }
  return cells;
}

function netByAccount(p: Prepared): Map<string, { account: Account; net: Decimal }> {
  const net = new Map<string, { account: Account; net: Decimal }>();
  for (const leg of p.legs) {
    const entry = net.get(leg.account.id) ?? { account: leg.account, net: new Decimal(0) };
    entry.net = entry.net.plus(leg.amount);
    net.set(leg.account.id, entry);
  }
  return net;
}

function checkLimits(p: Prepared, cells: Map<string, Cell>, shardOf: Map<string, number>): LedgerError | undefined {
  for (const { account, net } of netByAccount(p).values()) {
    if (account.allowNegative && account.allowPositive) continue;
    const cell = cells.get(`${account.id}:${shardOf.get(account.id)}`)!;
    const released = p.release?.accountId === account.id ? p.release.amount : new Decimal(0);
    const posted = cell.posted.plus(net);
    const held = cell.held.minus(released);
    if (!account.allowNegative && posted.minus(held).lt(0)) {
      return new LedgerError('LIMIT_EXCEEDED', `account ${account.code} cannot cover ${net.negated().toFixed()}`, {
        accountId: account.id,
      });
    }
    if (!account.allowPositive && posted.gt(0)) {
      return new LedgerError('LIMIT_EXCEEDED', `account ${account.code} cannot go above zero`, { accountId: account.id });
    }
  }
  return undefined;
}

function applyToCells(
  p: Prepared,
  cells: Map<string, Cell>,
  shardOf: Map<string, number>,
  deltas: Map<string, { posted: Decimal; held: Decimal }>,
): void {
  const bump = (cellKey: string, posted: Decimal, held: Decimal) => {
    const cell = cells.get(cellKey)!;
    cell.posted = cell.posted.plus(posted);
    cell.held = cell.held.plus(held);
    const d = deltas.get(cellKey) ?? { posted: new Decimal(0), held: new Decimal(0) };
    deltas.set(cellKey, { posted: d.posted.plus(posted), held: d.held.plus(held) });
  };
  for (const { account, net } of netByAccount(p).values()) {
    if (!net.isZero()) bump(`${account.id}:${shardOf.get(account.id)}`, net, new Decimal(0));
  }
  if (p.release) bump(`${p.release.accountId}:0`, new Decimal(0), p.release.amount.negated());
}

async function write(
  runner: SqlRunner,
  accepted: Prepared[],
  deltas: Map<string, { posted: Decimal; held: Decimal }>,
): Promise<Map<string, string>> {
  const tx = { key: [] as string[], hash: [] as string[], kind: [] as string[], memo: [] as (string | null)[], meta: [] as string[], at: [] as string[] };
  const en = { key: [] as string[], account: [] as string[], asset: [] as string[], amount: [] as string[], at: [] as string[] };
  for (const p of accepted) {
    const at = p.input.effectiveAt.toISOString();
    tx.key.push(p.input.idempotencyKey);
    tx.hash.push(p.hash);
    tx.kind.push(p.input.kind);
    tx.memo.push(p.input.memo ?? null);
    tx.meta.push(JSON.stringify(p.input.metadata ?? {}));
    tx.at.push(at);
    for (const leg of p.legs) {
      en.key.push(p.input.idempotencyKey);
      en.account.push(leg.account.id);
      en.asset.push(leg.account.asset);
      en.amount.push(leg.amount.toFixed());
      en.at.push(at);
    }
  }
  const bal = { account: [] as string[], shard: [] as number[], posted: [] as string[], held: [] as string[] };
  for (const [cellKey, d] of deltas) {
    if (d.posted.isZero() && d.held.isZero()) continue;
    const [account, shard] = cellKey.split(':');
    bal.account.push(account);
    bal.shard.push(Number(shard));
    bal.posted.push(d.posted.toFixed());
    bal.held.push(d.held.toFixed());
  }
  const inserted = await rows<{ id: string; idempotency_key: string }>(
    runner,
    `WITH tx AS (
       INSERT INTO ledger_transactions (idempotency_key, request_hash, kind, memo, metadata, effective_at)
       SELECT k, h, kd, m, md::jsonb, at
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[]) AS t(k, h, kd, m, md, at)
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING id, idempotency_key
     ), ent AS (
       INSERT INTO ledger_entries (transaction_id, account_id, asset, amount, effective_at)
       SELECT tx.id, e.account_id, e.asset, e.amount, e.at
       FROM unnest($7::text[], $8::bigint[], $9::text[], $10::numeric[], $11::timestamptz[])
         WITH ORDINALITY AS e(k, account_id, asset, amount, at, n)
       JOIN tx ON tx.idempotency_key = e.k
       ORDER BY e.n
     ), upd AS (
       UPDATE ledger_balances b
       SET posted = b.posted + d.posted, held = b.held + d.held
       FROM unnest($12::bigint[], $13::smallint[], $14::numeric[], $15::numeric[]) AS d(account_id, shard, posted, held)
       WHERE b.account_id = d.account_id AND b.shard = d.shard
     )
     SELECT id::text AS id, idempotency_key FROM tx`,
    [tx.key, tx.hash, tx.kind, tx.memo, tx.meta, tx.at, en.key, en.account, en.asset, en.amount, en.at,
      bal.account, bal.shard, bal.posted, bal.held],
  );
  if (inserted.length !== accepted.length) {
    // A concurrent writer committed one of our keys after we looked: our balance deltas assumed
    // it was new. Roll back and retry; the retry sees the key and answers "duplicate".
    throw new LedgerRetryableError('idempotency key raced with a concurrent transaction');
  }
  return new Map(inserted.map((r) => [r.idempotency_key, r.id]));
}
