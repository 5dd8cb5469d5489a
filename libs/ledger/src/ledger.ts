import type { DataSource } from 'typeorm';
import type { Decimal } from '@ccx/core';
import { AccountRegistry } from './accounts.js';
import { HoldBook, type PostHoldInput } from './holds.js';
import { LedgerError } from './ledger-errors.js';
import { PostingEngine } from './posting-engine.js';
import { lockBalances, readBalanceAt, readBalances, readEntries, readHistory, readStatement, verifyLedger } from './queries.js';
import { rows } from './sql.js';
import { retrying, withTransaction } from './transaction.js';
import type {
  Account,
  AccountInput,
  AccountStatement,
  Balance,
  BatchResult,
  EntryPage,
  HistoryPage,
  Hold,
  HoldInput,
  PostedTransaction,
  SqlRunner,
  TransactionInput,
  TransferInput,
  VerifyReport,
} from './types.js';

/**
 * The shared double-entry ledger. It knows accounts, assets, transactions, holds and balances —
 * nothing about listings, facilities or GraphQL. Every method that takes a `SqlRunner` runs in
 * the caller's database transaction (pass the `EntityManager`), so a domain change and its
 * postings commit or roll back together.
 */
export class Ledger {
  private readonly accounts = new AccountRegistry();
  private readonly engine: PostingEngine;
  private readonly holds: HoldBook;

  /** `onWritten` is told how many transactions each write inserted (for metrics). */
  constructor(options: { onWritten?: (count: number) => void } = {}) {
    this.engine = new PostingEngine(this.accounts, options.onWritten);
    this.holds = new HoldBook(this.accounts, this.engine);
  }

  /** Creates an account, or returns the existing one with the same code and definition. */
  createAccount(runner: SqlRunner, input: AccountInput): Promise<Account> {
    return this.accounts.create(runner, input);
  }

  accountByCode(runner: SqlRunner, code: string): Promise<Account | null> {
    return this.accounts.byCode(runner, code);
  }

  account(runner: SqlRunner, id: string): Promise<Account> {
    return this.accounts.get(runner, id);
  }

  /**
   * Posts one balanced transaction atomically. Throws a `LedgerError` (and writes nothing) on a
   * bad amount, an unbalanced set of postings, an unknown account, a broken limit, or a reused
   * idempotency key with different content; a replay of the same content returns the original.
   */
  async post(runner: SqlRunner, input: TransactionInput): Promise<PostedTransaction> {
    const [outcome] = await this.engine.apply(runner, [input]);
    if (outcome.status === 'rejected') throw outcome.error;
    return {
      id: outcome.transactionId,
      idempotencyKey: input.idempotencyKey,
      kind: input.kind,
      memo: input.memo ?? null,
      metadata: input.metadata ?? {},
      effectiveAt: outcome.status === 'duplicate' ? await this.effectiveAt(runner, outcome.transactionId) : input.effectiveAt,
      replayed: outcome.status === 'duplicate',
    };
  }

  /** `post` for the common two-legged case. */
  transfer(runner: SqlRunner, input: TransferInput): Promise<PostedTransaction> {
    return this.post(runner, transferPostings(input));
  }

  /**
   * `post` in a database transaction of its own, for callers with nothing else to commit with it:
   * one autocommitted statement (the server-side function, a named statement) on a connection
   * of the pool, so no BEGIN and COMMIT round trips and the balance locks held for that one
   * statement and its commit. Same checks and answers as `post`; retried like `withTransaction`
   * on serialization failure or deadlock (a lost race on the key: the retry answers the replay).
   */
  postAndCommit(dataSource: DataSource, input: TransactionInput): Promise<PostedTransaction> {
    return retrying(undefined, async () => {
      const queryRunner = dataSource.createQueryRunner();
      try {
        return await this.post(queryRunner, input);
      } finally {
        await queryRunner.release();
      }
    });
  }

  /** `transfer` in a database transaction of its own (see `postAndCommit`). */
  transferAndCommit(dataSource: DataSource, input: TransferInput): Promise<PostedTransaction> {
    return this.postAndCommit(dataSource, transferPostings(input));
  }

  /**
   * Many independent transactions, judged one by one in order against the balances the earlier
   * ones left, written with one commit-sized set of statements (TigerBeetle-style batching).
   * Runs inside the caller's transaction; see `postBatch` for one that owns its transaction.
   */
  async postMany(runner: SqlRunner, inputs: TransactionInput[]): Promise<BatchResult[]> {
    const outcomes = await this.engine.apply(runner, inputs);
    return outcomes.map((o) =>
      o.status === 'rejected'
        ? { status: 'rejected', reason: o.error.reason, message: o.error.message }
        : o,
    );
  }

  /** `postMany` in its own database transaction, retried on serialization failure or deadlock. */
  postBatch(dataSource: DataSource, inputs: TransactionInput[]): Promise<BatchResult[]> {
    return withTransaction(dataSource, (manager) => this.postMany(manager, inputs));
  }

  createHold(runner: SqlRunner, input: HoldInput): Promise<Hold> {
    return this.holds.create(runner, input);
  }

  /** Many fresh holds at once, all or nothing (see HoldBook.createMany). */
  createHolds(runner: SqlRunner, inputs: HoldInput[]): Promise<Hold[]> {
    return this.holds.createMany(runner, inputs);
  }

  /** Releases the still-PENDING ones of `holdIds`; returns what it released. */
  voidHolds(runner: SqlRunner, holdIds: string[], at: Date): Promise<Hold[]> {
    return this.holds.voidMany(runner, holdIds, at);
  }

  hold(runner: SqlRunner, holdId: string): Promise<Hold> {
    return this.holds.get(runner, holdId);
  }

  postHold(runner: SqlRunner, input: PostHoldInput): Promise<{ hold: Hold; transaction: PostedTransaction }> {
    return this.holds.post(runner, input);
  }

  voidHold(runner: SqlRunner, holdId: string, at: Date): Promise<Hold> {
    return this.holds.void(runner, holdId, at);
  }

  expireHolds(runner: SqlRunner, now: Date, limit?: number): Promise<Hold[]> {
    return this.holds.expire(runner, now, limit);
  }

  pendingHolds(runner: SqlRunner, accountId: string): Promise<Hold[]> {
    return this.holds.pendingOn(runner, accountId);
  }

  async balance(runner: SqlRunner, accountId: string): Promise<Balance> {
    const found = (await readBalances(runner, [accountId])).get(accountId);
    if (!found) throw new LedgerError('ACCOUNT_NOT_FOUND', `account ${accountId} does not exist`, { accountId });
    return found;
  }

  balances(runner: SqlRunner, accountIds: string[]): Promise<Map<string, Balance>> {
    return readBalances(runner, accountIds);
  }

  /** Locks limited accounts' balance rows (ledger lock order) and returns their balances. */
  lockBalances(runner: SqlRunner, accountIds: string[]): Promise<Map<string, Balance>> {
    return lockBalances(runner, accountIds);
  }

  balanceAt(runner: SqlRunner, accountId: string, at: Date): Promise<Decimal> {
    return readBalanceAt(runner, accountId, at);
  }

  entries(runner: SqlRunner, accountId: string, page?: { first?: number; after?: string | null }): Promise<EntryPage> {
    return readEntries(runner, accountId, page);
  }

  /**
   * An account's history, newest first in business time (effective_at, then id), each entry with
   * its transaction's kind and metadata and the posted balance after it. `before`: the id of the
   * last entry of the previous page; `limit`: 1 to 500 (default 50).
   */
  entriesOf(runner: SqlRunner, accountId: string, page?: { before?: string | null; limit?: number }): Promise<HistoryPage> {
    return readHistory(runner, accountId, page);
  }

  /** Opening balance before `from`, the entries of [from, to) oldest first, closing balance before `to`. */
  statementOf(runner: SqlRunner, accountId: string, from: Date, to: Date): Promise<AccountStatement> {
    return readStatement(runner, accountId, from, to);
  }

  /** Checks every invariant on one snapshot (REPEATABLE READ, read only). */
  verify(dataSource: DataSource): Promise<VerifyReport> {
    return dataSource.transaction('REPEATABLE READ', async (manager) => {
      await manager.query('SET TRANSACTION READ ONLY');
      return verifyLedger(manager);
    });
  }

  private async effectiveAt(runner: SqlRunner, transactionId: string): Promise<Date> {
    const [r] = await rows<{ effective_at: Date }>(runner, `SELECT effective_at FROM ledger_transactions WHERE id = $1`, [
      transactionId,
    ]);
    return new Date(r.effective_at);
  }
}

function transferPostings(input: TransferInput): TransactionInput {
  const { debitAccountId, creditAccountId, amount, ...rest } = input;
  return {
    ...rest,
    postings: [
      { accountId: debitAccountId, direction: 'DEBIT', amount },
      { accountId: creditAccountId, direction: 'CREDIT', amount },
    ],
  };
}
