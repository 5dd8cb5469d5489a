import { createHash, randomInt } from 'node:crypto';
import { AmountParseError, Decimal, parseAmount } from '@ccx/core';
import type { AccountRegistry } from './accounts.js';
import { LedgerError } from './ledger-errors.js';
import { canonicalJson, namedRows, namedSql, type NamedSql } from './sql.js';
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
  /** The account of `release`. */
  releaseAccount?: Account;
  error?: LedgerError;
}

const MAX_KEY = 200;
/** Enough for a fill across hundreds of listings or a usage batch across many blocks. */
const MAX_POSTINGS = 1000;

/**
 * Validates, locks, checks limits and writes any number of independent transactions in the
 * caller's database transaction with one statement: TypeScript validates, parses amounts, hashes
 * the content and computes each transaction's balance effects; the server-side function
 * `ledger_post_batch` locks, reads the keys, judges in order and writes (docs/LEDGER.md).
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
    const write = await this.prepare(runner, inputs, releases);
    const found = write.statement ? await namedRows<JudgedRow>(runner, write.statement.sql, write.statement.params) : [];
    return write.finish(found);
  }

  /**
   * `apply` in two halves, for a caller that sends the write in a flight of its own (`commitWith`):
   * the validated, hashed transactions as one statement (none when every one is refused before the
   * database), and `finish`, which turns that statement's rows into the outcomes `apply` answers.
   */
  async prepare(runner: SqlRunner, inputs: TransactionInput[], releases: (HeldRelease | undefined)[] = []): Promise<PreparedWrite> {
    const ids = inputs.flatMap((i) => (Array.isArray(i?.postings) ? i.postings.map((p) => String(p?.accountId)) : []));
    for (const r of releases) if (r) ids.push(r.accountId);
    const known = await this.accounts.load(runner, ids);
    const prepared = inputs.map((input, i) => prepare(input, known, releases[i]));

    // One row per idempotency key goes to the database; a later transaction with the same key in
    // this batch follows the first (see `follow`).
    const leaders: Prepared[] = [];
    const leaderOf = new Map<string, number>();
    for (const p of prepared) {
      if (p.error || leaderOf.has(p.input.idempotencyKey)) continue;
      leaderOf.set(p.input.idempotencyKey, leaders.length);
      leaders.push(p);
    }
    const finish = (found: unknown[]): Outcome[] => {
      const judged = (found as JudgedRow[]).map((r) => ({ status: r.status, transactionId: r.transaction_id, accountId: r.account_id, existingHash: r.existing_hash }));
      if (judged.length !== leaders.length) throw new Error(`the ledger's write answered ${judged.length} rows for ${leaders.length} transactions`);
      const accepted = judged.filter((j) => j.status === 'accepted').length;
      if (accepted) this.onWritten?.(accepted);

      const outcomes: Outcome[] = [];
      const seen = new Set<string>();
      for (const p of prepared) {
        if (p.error) {
          outcomes.push({ status: 'rejected', error: p.error });
          continue;
        }
        const key = p.input.idempotencyKey;
        const index = leaderOf.get(key)!;
        const j = judged[index];
        if (!seen.has(key)) {
          seen.add(key);
          outcomes.push(leaderOutcome(leaders[index], j));
        } else {
          outcomes.push(follow(p, leaders[index], j));
        }
      }
      return outcomes;
    };
    return { statement: writeStatement(leaders), finish };
  }
}

/** A write prepared by `PostingEngine.prepare`. */
export interface PreparedWrite {
  /** The statement that locks, judges and writes; null when nothing reaches the database. */
  statement: { sql: NamedSql; params: unknown[] } | null;
  /** The outcomes, in the order of the inputs, from the statement's rows (none without a statement). */
  finish(rows: unknown[]): Outcome[];
}

/** What the database said of one transaction (ledger_post_batch). */
interface Judged {
  status: 'accepted' | 'duplicate' | 'conflict' | 'limit';
  transactionId: string | null;
  /** 'limit': the first account whose limit it would break. */
  accountId: string | null;
  /** 'duplicate' / 'conflict': the stored transaction's request hash. */
  existingHash: string | null;
}

function leaderOutcome(p: Prepared, j: Judged): Outcome {
  if (j.status === 'accepted') return { status: 'accepted', transactionId: j.transactionId! };
  if (j.status === 'duplicate') return { status: 'duplicate', transactionId: j.transactionId! };
  if (j.status === 'conflict') return conflict(p.input.idempotencyKey);
  return { status: 'rejected', error: limitError(p, j.accountId!) };
}

/**
 * A repeat of a key within one batch: judged against the stored transaction when the key was
 * already used, else against the first of the batch — same content: that one's outcome (a
 * duplicate of it when it was written), different content: a conflict.
 */
function follow(p: Prepared, leader: Prepared, j: Judged): Outcome {
  const key = p.input.idempotencyKey;
  if (j.status === 'duplicate' || j.status === 'conflict') {
    return p.hash === j.existingHash ? { status: 'duplicate', transactionId: j.transactionId! } : conflict(key);
  }
  if (p.hash !== leader.hash) return conflict(key);
  return j.status === 'accepted' ? { status: 'duplicate', transactionId: j.transactionId! } : leaderOutcome(leader, j);
}

function limitError(p: Prepared, accountId: string): LedgerError {
  // The account is one of the legs, or else the account of a posted hold's release (no net change).
  const { account, net } = netByAccount(p).get(accountId) ?? { account: p.releaseAccount!, net: new Decimal(0) };
  if (!account.allowNegative) {
    return new LedgerError('LIMIT_EXCEEDED', `account ${account.code} cannot cover ${net.negated().toFixed()}`, { accountId: account.id });
  }
  return new LedgerError('LIMIT_EXCEEDED', `account ${account.code} cannot go above zero`, { accountId: account.id });
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
  const releaseAccount = release ? known.get(release.accountId) : undefined;
  if (release && !releaseAccount) {
    return fail(new LedgerError('ACCOUNT_NOT_FOUND', `account ${release.accountId} does not exist`, { accountId: release.accountId }));
  }
  return { input, hash, legs, release, releaseAccount };
}

/** A Decimal from domain code; a JS number or anything else is refused rather than trusted. */
function toPlain(value: unknown): unknown {
  return Decimal.isBigNumber(value) ? (value as Decimal).toFixed() : value;
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

/** A row of `ledger_post_batch` or `ledger_post_one`. */
interface JudgedRow {
  status: Judged['status'];
  transaction_id: string | null;
  account_id: string | null;
  existing_hash: string | null;
}

/**
 * The ledger's write statements (named statements: parsed and planned once per connection).
 * A write of one transaction goes to `ledger_post_one` (migration 1763700000016), which costs
 * the server about a third less than `ledger_post_batch` for it (docs/BENCHMARKS.md).
 */
const POST_ONE = namedSql(
  'post_one',
  `SELECT status, transaction_id::text AS transaction_id, account_id::text AS account_id, existing_hash
   FROM ledger_post_one($1, $2, $3, $4, $5, $6::timestamptz, $7::bigint[], $8::text[], $9::numeric[],
     $10::bigint[], $11::smallint[], $12::boolean[], $13::boolean[], $14::numeric[], $15::numeric[])`,
);

const POST_BATCH = namedSql(
  'post_batch',
  `SELECT status, transaction_id::text AS transaction_id, account_id::text AS account_id, existing_hash
   FROM ledger_post_batch($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
     $7::int[], $8::bigint[], $9::text[], $10::numeric[],
     $11::bigint[], $12::smallint[], $13::boolean[], $14::boolean[],
     $15::int[], $16::int[], $17::numeric[], $18::numeric[])`,
);

/**
 * The statement of one call of `ledger_post_batch` (migration 1763700000006): it locks every balance row involved
 * in the ledger's lock order (account id, shard), reads the keys, judges each transaction in order
 * against the balances the earlier ones left, and writes the accepted ones. Here: the arrays.
 * A single transaction goes to `ledger_post_one` instead, which gives the same answers.
 *
 * A sharded (unlimited) account gets one random shard per batch, so its effects aggregate into
 * one row update and concurrent batches spread over its shards. Every account a transaction
 * touches is a balance effect (even at net zero), so its limit is checked as the database sees it.
 */
function writeStatement(leaders: Prepared[]): { sql: NamedSql; params: unknown[] } | null {
  if (!leaders.length) return null;
  const shardOf = new Map<string, number>();
  const cellIndex = new Map<string, number>();
  const cell = { account: [] as string[], shard: [] as number[], noNeg: [] as boolean[], noPos: [] as boolean[] };
  const cellOf = (account: Account, shard: number): number => {
    const key = `${account.id}:${shard}`;
    let index = cellIndex.get(key);
    if (index === undefined) {
      cell.account.push(account.id);
      cell.shard.push(shard);
      cell.noNeg.push(!account.allowNegative);
      cell.noPos.push(!account.allowPositive);
      index = cell.account.length; // 1-based, as PostgreSQL arrays
      cellIndex.set(key, index);
    }
    return index;
  };
  const tx = { key: [] as string[], hash: [] as string[], kind: [] as string[], memo: [] as (string | null)[], meta: [] as string[], at: [] as string[] };
  const en = { tx: [] as number[], account: [] as string[], asset: [] as string[], amount: [] as string[] };
  const ef = { tx: [] as number[], cell: [] as number[], posted: [] as string[], held: [] as string[] };
  leaders.forEach((p, i) => {
    const txIndex = i + 1;
    tx.key.push(p.input.idempotencyKey);
    tx.hash.push(p.hash);
    tx.kind.push(p.input.kind);
    tx.memo.push(p.input.memo ?? null);
    tx.meta.push(JSON.stringify(p.input.metadata ?? {}));
    tx.at.push(p.input.effectiveAt.toISOString());
    for (const leg of p.legs) {
      en.tx.push(txIndex);
      en.account.push(leg.account.id);
      en.asset.push(leg.account.asset);
      en.amount.push(leg.amount.toFixed());
    }
    const effects = new Map<number, { posted: Decimal; held: Decimal }>();
    for (const { account, net } of netByAccount(p).values()) {
      let shard = shardOf.get(account.id);
      if (shard === undefined) {
        shard = account.shards > 1 ? randomInt(account.shards) : 0;
        shardOf.set(account.id, shard);
      }
      effects.set(cellOf(account, shard), { posted: net, held: new Decimal(0) });
    }
    if (p.release && p.releaseAccount) {
      // Holds live on unsharded accounts: shard 0.
      const index = cellOf(p.releaseAccount, 0);
      const effect = effects.get(index) ?? { posted: new Decimal(0), held: new Decimal(0) };
      effects.set(index, { posted: effect.posted, held: effect.held.minus(p.release.amount) });
    }
    for (const [index, effect] of effects) {
      ef.tx.push(txIndex);
      ef.cell.push(index);
      ef.posted.push(effect.posted.toFixed());
      ef.held.push(effect.held.toFixed());
    }
  });
  if (leaders.length === 1) {
    // One transaction: its own function (scalars for the transaction, its cells' changes as they are).
    const posted = Array.from({ length: cell.account.length }, () => '0');
    const held = Array.from({ length: cell.account.length }, () => '0');
    ef.cell.forEach((c, k) => {
      posted[c - 1] = ef.posted[k];
      held[c - 1] = ef.held[k];
    });
    return {
      sql: POST_ONE,
      params: [
        tx.key[0], tx.hash[0], tx.kind[0], tx.memo[0], tx.meta[0], tx.at[0],
        en.account, en.asset, en.amount,
        cell.account, cell.shard, cell.noNeg, cell.noPos, posted, held,
      ],
    };
  }
  return {
    sql: POST_BATCH,
    params: [tx.key, tx.hash, tx.kind, tx.memo, tx.meta, tx.at, en.tx, en.account, en.asset, en.amount,
      cell.account, cell.shard, cell.noNeg, cell.noPos, ef.tx, ef.cell, ef.posted, ef.held],
  };
}
