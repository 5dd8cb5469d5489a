import { createHash } from 'node:crypto';
import { AmountParseError, Decimal, parseAmount } from '@ccx/core';
import type { AccountRegistry } from './accounts.js';
import { LedgerError, LedgerRetryableError } from './ledger-errors.js';
import type { PostingEngine } from './posting-engine.js';
import { canonicalJson, namedRows, namedSql, rows } from './sql.js';
import type { Hold, HoldInput, HoldStatus, PostedTransaction, SqlRunner } from './types.js';

interface HoldRow {
  id: string;
  idempotency_key: string;
  request_hash: string;
  debit_account_id: string;
  credit_account_id: string;
  asset: string;
  amount: string;
  posted_amount: string | null;
  status: HoldStatus;
  expires_at: Date;
  transaction_id: string | null;
  metadata: Record<string, unknown>;
}

const HOLD_COLUMNS = `id::text AS id, idempotency_key, request_hash, debit_account_id::text AS debit_account_id,
  credit_account_id::text AS credit_account_id, asset, amount::text AS amount, posted_amount::text AS posted_amount,
  status, expires_at, transaction_id::text AS transaction_id, metadata`;

function toHold(r: HoldRow): Hold {
  return {
    id: r.id,
    idempotencyKey: r.idempotency_key,
    debitAccountId: r.debit_account_id,
    creditAccountId: r.credit_account_id,
    asset: r.asset,
    amount: new Decimal(r.amount),
    postedAmount: r.posted_amount === null ? null : new Decimal(r.posted_amount),
    status: r.status,
    expiresAt: new Date(r.expires_at),
    transactionId: r.transaction_id,
    metadata: r.metadata ?? {},
  };
}

export interface PostHoldInput {
  holdId: string;
  /** Defaults to the whole hold; at most the hold's amount. The rest is released. */
  amount?: string | Decimal;
  /** Defaults to "hold:<id>:post". */
  idempotencyKey?: string;
  kind?: string;
  memo?: string | null;
  metadata?: Record<string, unknown>;
  effectiveAt: Date;
}

const HOLD_BY_ID = namedSql('hold_by_id', `SELECT ${HOLD_COLUMNS} FROM ledger_holds WHERE id = $1`);
const HOLD_FOR_UPDATE = namedSql('hold_for_update', `SELECT ${HOLD_COLUMNS} FROM ledger_holds WHERE id = $1 FOR UPDATE`);

/**
 * Two-phase transfers (TigerBeetle's pending transfers): a hold reserves an amount on the debit
 * account (it counts against `available`), then is posted (all or part), voided, or expires.
 * Every resolution locks the hold row first, then balance rows, and checks the status under
 * that lock: a hold resolves exactly once.
 */
export class HoldBook {
  constructor(
    private readonly accounts: AccountRegistry,
    private readonly engine: PostingEngine,
  ) {}

  async create(runner: SqlRunner, input: HoldInput): Promise<Hold> {
    const { debit, credit, amount, hash } = await this.checked(runner, input);

    const replay = await this.findByKey(runner, input.idempotencyKey);
    if (replay) return this.sameOrConflict(replay, hash);

    const [cell] = await namedRows<{ posted: string; held: string }>(
      runner,
      namedSql('hold_lock_debit', `SELECT posted::text AS posted, held::text AS held FROM ledger_balances
       WHERE account_id = $1 AND shard = 0 FOR UPDATE`),
      [debit.id],
    );
    if (!debit.allowNegative && new Decimal(cell.posted).minus(cell.held).lt(amount)) {
      // A creator of the same key may have committed while we waited for the lock, and its hold
      // is what took the balance: a replay must get that hold back, not a refusal.
      const raced = await this.findByKey(runner, input.idempotencyKey);
      if (raced) return this.sameOrConflict(raced, hash);
      throw new LedgerError('LIMIT_EXCEEDED', `account ${debit.code} cannot cover a hold of ${amount.toFixed()}`, {
        accountId: debit.id,
      });
    }
    const inserted = await namedRows<HoldRow>(
      runner,
      namedSql('hold_insert', `INSERT INTO ledger_holds (idempotency_key, request_hash, debit_account_id, credit_account_id, asset, amount,
         status, expires_at, metadata)
       VALUES ($1, $2, $3, $4, $5, $6, 'PENDING', $7, $8::jsonb)
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING ${HOLD_COLUMNS}`),
      [input.idempotencyKey, hash, debit.id, credit.id, debit.asset, amount.toFixed(), input.expiresAt, JSON.stringify(input.metadata ?? {})],
    );
    if (!inserted.length) {
      const raced = await this.findByKey(runner, input.idempotencyKey);
      if (!raced) throw new LedgerRetryableError('hold key raced');
      return this.sameOrConflict(raced, hash);
    }
    await namedRows(runner, namedSql('hold_add_held', `UPDATE ledger_balances SET held = held + $2 WHERE account_id = $1 AND shard = 0`), [
      debit.id,
      amount.toFixed(),
    ]);
    return toHold(inserted[0]);
  }

  /**
   * Creates many holds at once, all or nothing: one lock of the debit balance rows (account
   * order, the ledger's lock order), one insert, one update. Each debit account must cover the
   * sum of its new holds; a key already used is refused (a batch is for fresh requests: replay a
   * single hold with `create`). For the hot paths that group concurrent requests (the gateway).
   */
  async createMany(runner: SqlRunner, inputs: HoldInput[]): Promise<Hold[]> {
    if (!inputs.length) return [];
    const prepared: { input: HoldInput; amount: Decimal; hash: string; asset: string }[] = [];
    const perAccount = new Map<string, Decimal>();
    const keys = new Set<string>();
    for (const input of inputs) {
      if (keys.has(input.idempotencyKey)) throw new LedgerError('INVALID_TRANSACTION', 'each hold of a batch needs its own idempotencyKey');
      keys.add(input.idempotencyKey);
      const { debit, amount, hash } = await this.checked(runner, input);
      prepared.push({ input, amount, hash, asset: debit.asset });
      if (!debit.allowNegative) perAccount.set(debit.id, (perAccount.get(debit.id) ?? new Decimal(0)).plus(amount));
    }
    const accountIds = [...perAccount.keys()].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    const cells = await namedRows<{ account_id: string; posted: string; held: string }>(
      runner,
      namedSql('holds_lock_debits', `SELECT account_id::text AS account_id, posted::text AS posted, held::text AS held FROM ledger_balances
       WHERE account_id = ANY($1::bigint[]) AND shard = 0 ORDER BY account_id FOR UPDATE`),
      [accountIds],
    );
    for (const cell of cells) {
      const need = perAccount.get(cell.account_id)!;
      if (new Decimal(cell.posted).minus(cell.held).lt(need)) {
        throw new LedgerError('LIMIT_EXCEEDED', `account ${cell.account_id} cannot cover holds of ${need.toFixed()}`, {
          accountId: cell.account_id,
        });
      }
    }
    const inserted = await namedRows<HoldRow>(
      runner,
      namedSql('holds_insert', `INSERT INTO ledger_holds (idempotency_key, request_hash, debit_account_id, credit_account_id, asset, amount,
         status, expires_at, metadata)
       SELECT k, h, d, c, a, amt, 'PENDING', e, m
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::numeric[], $7::timestamptz[], $8::jsonb[])
         WITH ORDINALITY AS x(k, h, d, c, a, amt, e, m, n)
       ORDER BY n
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING ${HOLD_COLUMNS}`),
      [
        prepared.map((p) => p.input.idempotencyKey),
        prepared.map((p) => p.hash),
        prepared.map((p) => p.input.debitAccountId),
        prepared.map((p) => p.input.creditAccountId),
        prepared.map((p) => p.asset),
        prepared.map((p) => p.amount.toFixed()),
        prepared.map((p) => p.input.expiresAt.toISOString()),
        prepared.map((p) => JSON.stringify(p.input.metadata ?? {})),
      ],
    );
    if (inserted.length !== prepared.length) {
      // Throwing rolls the caller's transaction back: no hold of the batch survives.
      throw new LedgerError('IDEMPOTENCY_CONFLICT', 'a hold key of the batch was already used');
    }
    const heldPerAccount = new Map<string, Decimal>();
    for (const p of prepared) {
      heldPerAccount.set(p.input.debitAccountId, (heldPerAccount.get(p.input.debitAccountId) ?? new Decimal(0)).plus(p.amount));
    }
    const ids = [...heldPerAccount.keys()];
    await namedRows(
      runner,
      namedSql('holds_add_held', `UPDATE ledger_balances b SET held = b.held + d.amount
       FROM unnest($1::bigint[], $2::numeric[]) AS d(account_id, amount)
       WHERE b.account_id = d.account_id AND b.shard = 0`),
      [ids, ids.map((id) => heldPerAccount.get(id)!.toFixed())],
    );
    const byKey = new Map(inserted.map((r) => [r.idempotency_key, r]));
    return prepared.map((p) => toHold(byKey.get(p.input.idempotencyKey)!));
  }

  /**
   * Releases those of `holdIds` that are still PENDING (in one statement per table) and returns
   * them; holds already posted, voided or expired are left as they are.
   */
  async voidMany(runner: SqlRunner, holdIds: string[], at: Date): Promise<Hold[]> {
    if (!holdIds.length) return [];
    const pending = await namedRows<HoldRow>(
      runner,
      namedSql('holds_lock_pending', `SELECT ${HOLD_COLUMNS} FROM ledger_holds WHERE id = ANY($1::bigint[]) AND status = 'PENDING' ORDER BY id FOR UPDATE`),
      [holdIds],
    );
    return pending.length ? this.release(runner, pending, 'VOIDED', at) : [];
  }

  async get(runner: SqlRunner, holdId: string): Promise<Hold> {
    return toHold(await this.lockOrRead(runner, holdId, false));
  }

  /** Posts all or part of a PENDING hold; the remainder is released in the same transaction. */
  async post(runner: SqlRunner, input: PostHoldInput): Promise<{ hold: Hold; transaction: PostedTransaction }> {
    const row = await this.lockOrRead(runner, input.holdId, true);
    this.assertPending(row, input.effectiveAt);
    const debit = await this.accounts.get(runner, row.debit_account_id);
    const full = new Decimal(row.amount);
    const amount = input.amount === undefined ? full : parseLedgerAmount(input.amount, debit.scale);
    if (amount.gt(full)) {
      throw new LedgerError('INVALID_AMOUNT', `cannot post ${amount.toFixed()} of a hold of ${full.toFixed()}`);
    }
    const key = input.idempotencyKey ?? `hold:${row.id}:post`;
    const [outcome] = await this.engine.apply(
      runner,
      [
        {
          idempotencyKey: key,
          kind: input.kind ?? 'hold.post',
          memo: input.memo ?? null,
          metadata: { holdId: row.id, ...(input.metadata ?? {}) },
          effectiveAt: input.effectiveAt,
          postings: [
            { accountId: row.debit_account_id, direction: 'DEBIT', amount },
            { accountId: row.credit_account_id, direction: 'CREDIT', amount },
          ],
        },
      ],
      [{ accountId: row.debit_account_id, amount: full }],
    );
    if (outcome.status === 'rejected') throw outcome.error;
    if (outcome.status === 'duplicate') {
      throw new LedgerError('IDEMPOTENCY_CONFLICT', `idempotency key ${key} was already used`);
    }
    const [updated] = await namedRows<HoldRow>(
      runner,
      namedSql('hold_mark_posted', `UPDATE ledger_holds SET status = 'POSTED', posted_amount = $2, transaction_id = $3, resolved_at = $4
       WHERE id = $1 RETURNING ${HOLD_COLUMNS}`),
      [row.id, amount.toFixed(), outcome.transactionId, input.effectiveAt],
    );
    const [tx] = await namedRows<{ memo: string | null; effective_at: Date }>(
      runner,
      namedSql('hold_posted_transaction', `SELECT memo, effective_at FROM ledger_transactions WHERE id = $1`),
      [outcome.transactionId],
    );
    return {
      hold: toHold(updated),
      transaction: {
        id: outcome.transactionId,
        idempotencyKey: key,
        kind: input.kind ?? 'hold.post',
        memo: tx.memo,
        metadata: { holdId: row.id, ...(input.metadata ?? {}) },
        effectiveAt: new Date(tx.effective_at),
        replayed: false,
      },
    };
  }

  /** Releases a PENDING hold without moving anything. */
  async void(runner: SqlRunner, holdId: string, at: Date): Promise<Hold> {
    const row = await this.lockOrRead(runner, holdId, true);
    if (row.status !== 'PENDING') {
      throw new LedgerError('HOLD_RESOLVED', `hold ${row.id} is already ${row.status}`, { status: row.status });
    }
    return this.release(runner, [row], 'VOIDED', at).then((r) => r[0]);
  }

  /**
   * Releases every PENDING hold whose deadline is at or before `now` (up to `limit`), skipping
   * holds another transaction is resolving right now. Returns the expired holds.
   */
  async expire(runner: SqlRunner, now: Date, limit = 1000): Promise<Hold[]> {
    const due = await rows<HoldRow>(
      runner,
      `SELECT ${HOLD_COLUMNS} FROM ledger_holds
       WHERE status = 'PENDING' AND expires_at <= $1
       ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [now, limit],
    );
    return due.length ? this.release(runner, due, 'EXPIRED', now) : [];
  }

  /** PENDING holds on an account (e.g. to release them when its block is frozen). */
  async pendingOn(runner: SqlRunner, accountId: string): Promise<Hold[]> {
    const found = await rows<HoldRow>(
      runner,
      `SELECT ${HOLD_COLUMNS} FROM ledger_holds WHERE debit_account_id = $1 AND status = 'PENDING' ORDER BY id`,
      [accountId],
    );
    return found.map(toHold);
  }

  private async release(runner: SqlRunner, holds: HoldRow[], status: 'VOIDED' | 'EXPIRED', at: Date): Promise<Hold[]> {
    const perAccount = new Map<string, Decimal>();
    for (const h of holds) {
      perAccount.set(h.debit_account_id, (perAccount.get(h.debit_account_id) ?? new Decimal(0)).plus(h.amount));
    }
    const ids = [...perAccount.keys()].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    await namedRows(
      runner,
      namedSql('holds_lock_release', `SELECT 1 FROM ledger_balances WHERE account_id = ANY($1::bigint[]) AND shard = 0
       ORDER BY account_id FOR UPDATE`),
      [ids],
    );
    await namedRows(
      runner,
      namedSql('holds_release_held', `UPDATE ledger_balances b SET held = b.held - d.amount
       FROM unnest($1::bigint[], $2::numeric[]) AS d(account_id, amount)
       WHERE b.account_id = d.account_id AND b.shard = 0`),
      [ids, ids.map((id) => perAccount.get(id)!.toFixed())],
    );
    const updated = await namedRows<HoldRow>(
      runner,
      namedSql('holds_mark_released', `UPDATE ledger_holds SET status = $2, resolved_at = $3 WHERE id = ANY($1::bigint[]) RETURNING ${HOLD_COLUMNS}`),
      [holds.map((h) => h.id), status, at],
    );
    return updated.map(toHold);
  }

  /** The rules every hold obeys (checkedHold). */
  private checked(runner: SqlRunner, input: HoldInput) {
    return checkedHold(this.accounts, runner, input);
  }

  private assertPending(row: HoldRow, at: Date): void {
    if (row.status !== 'PENDING') {
      throw new LedgerError('HOLD_RESOLVED', `hold ${row.id} is already ${row.status}`, { status: row.status });
    }
    if (new Date(row.expires_at).getTime() <= at.getTime()) {
      throw new LedgerError('HOLD_EXPIRED', `hold ${row.id} expired at ${new Date(row.expires_at).toISOString()}`);
    }
  }

  private async lockOrRead(runner: SqlRunner, holdId: string, lock: boolean): Promise<HoldRow> {
    if (!/^[1-9][0-9]{0,17}$/.test(String(holdId))) throw new LedgerError('HOLD_NOT_FOUND', `hold ${holdId} does not exist`);
    const [row] = await namedRows<HoldRow>(runner, lock ? HOLD_FOR_UPDATE : HOLD_BY_ID, [holdId]);
    if (!row) throw new LedgerError('HOLD_NOT_FOUND', `hold ${holdId} does not exist`);
    return row;
  }

  private async findByKey(runner: SqlRunner, key: string): Promise<HoldRow | undefined> {
    const [row] = await namedRows<HoldRow>(runner, namedSql('hold_by_key', `SELECT ${HOLD_COLUMNS} FROM ledger_holds WHERE idempotency_key = $1`), [key]);
    return row;
  }

  private sameOrConflict(row: HoldRow, hash: string): Hold {
    if (row.request_hash !== hash) {
      throw new LedgerError('IDEMPOTENCY_CONFLICT', `idempotency key ${row.idempotency_key} was used for a different hold`);
    }
    return toHold(row);
  }
}

export function parseLedgerAmount(value: string | Decimal, scale: number): Decimal {
  try {
    return parseAmount(Decimal.isBigNumber(value) ? (value as Decimal).toFixed() : value, { scale });
  } catch (e) {
    if (e instanceof AmountParseError) throw new LedgerError('INVALID_AMOUNT', e.message, { problem: e.problem });
    throw e;
  }
}

/**
 * The rules every hold obeys, and its amount at the asset's scale and its content hash (what a
 * replay of the same key must match): for one hold (`HoldBook`) and for a batch in one statement
 * (`createHoldsInOneStatement`) alike.
 */
export async function checkedHold(accounts: AccountRegistry, runner: SqlRunner, input: HoldInput) {
  const debit = await accounts.get(runner, input.debitAccountId);
  const credit = await accounts.get(runner, input.creditAccountId);
  if (debit.asset !== credit.asset) throw new LedgerError('UNBALANCED', 'a hold moves one asset');
  if (debit.shards > 1) throw new LedgerError('INVALID_TRANSACTION', 'a hold needs an unsharded debit account');
  if (!credit.allowPositive) throw new LedgerError('INVALID_TRANSACTION', 'the credit account of a hold must accept credits');
  if (!input.idempotencyKey || input.idempotencyKey.length > 200) {
    throw new LedgerError('INVALID_TRANSACTION', 'idempotencyKey must be 1 to 200 characters');
  }
  if (!(input.expiresAt instanceof Date) || Number.isNaN(input.expiresAt.getTime())) {
    throw new LedgerError('INVALID_TRANSACTION', 'expiresAt must be a valid instant');
  }
  const amount = parseLedgerAmount(input.amount, debit.scale);
  const hash = createHash('sha256')
    .update(canonicalJson({ d: debit.id, c: credit.id, a: amount.toFixed(debit.scale), m: input.metadata ?? {} }))
    .digest('hex');
  return { debit, credit, amount, hash };
}
