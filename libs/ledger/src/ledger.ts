import type { DataSource } from 'typeorm';
import type { Decimal } from '@ccx/core';
import { AccountRegistry } from './accounts.js';
import { createHoldsInOneStatement } from './hold-statements.js';
import { HoldBook, type PostHoldInput } from './holds.js';
import { LedgerError } from './ledger-errors.js';
import { PostingEngine, type Outcome } from './posting-engine.js';
import { lockBalances, readBalanceAt, readBalances, readEntries, readHistory, readStatement, verifyLedger } from './queries.js';
import { rows } from './sql.js';
import { retrying, withTransaction, type Statement } from './transaction.js';
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

/** Posts that `postAndCommit` writes together at most (a batch of the posting engine). */
const MAX_GROUP = 500;
/** `postAndCommit`'s writes in flight at once per DataSource (so one slow write holds up few). */
const MAX_IN_FLIGHT = 4;

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
  /** `postAndCommit`: posts waiting for the next group, and the DataSources with one in flight. */
  private readonly waiting = new Map<DataSource, { input: TransactionInput; resolve: (o: Outcome) => void; reject: (e: unknown) => void }[]>();
  private readonly committing = new Map<DataSource, number>();

  /** `onWritten` is told how many transactions each write inserted (for metrics). */
  constructor(options: { onWritten?: (count: number) => void } = {}) {
    this.engine = new PostingEngine(this.accounts, options.onWritten);
    this.holds = new HoldBook(this.accounts, this.engine);
  }

  /** Creates an account, or returns the existing one with the same code and definition. */
  createAccount(runner: SqlRunner, input: AccountInput): Promise<Account> {
    return this.accounts.create(runner, input);
  }

  /** Spreads an unlimited account over more balance rows (see AccountRegistry.growShards). */
  growShards(runner: SqlRunner, code: string, shards: number): Promise<Account | null> {
    return this.accounts.growShards(runner, code, shards);
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
    return this.answer(runner, input, outcome);
  }

  /** What `post` answers for an outcome: the transaction, or the refusal thrown. */
  private async answer(runner: SqlRunner, input: TransactionInput, outcome: Outcome): Promise<PostedTransaction> {
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
   * statement and its commit. Concurrent calls are committed together (group commit, see
   * `commitWaiting`): each still gets its own answer, only after its write is committed. Same
   * checks and answers as `post`; retried like `withTransaction` on serialization failure or
   * deadlock (a lost race on the key: the retry answers the replay).
   */
  async postAndCommit(dataSource: DataSource, input: TransactionInput): Promise<PostedTransaction> {
    const outcome = await new Promise<Outcome>((resolve, reject) => {
      let waiting = this.waiting.get(dataSource);
      if (!waiting) this.waiting.set(dataSource, (waiting = []));
      waiting.push({ input, resolve, reject });
      void this.commitWaiting(dataSource);
    });
    return this.answer(dataSource.manager, input, outcome);
  }

  /**
   * Group commit for `postAndCommit`: at most `MAX_IN_FLIGHT` writes in flight per DataSource;
   * the posts that arrive meanwhile go together in the next one (up to `MAX_GROUP`), each judged
   * on its own in arrival order (as `postMany`), in one autocommitted statement. A post that
   * finds a write free goes at once. If a group fails as a whole (not a retryable race), each of
   * its posts is written alone, so one caller's failure is never another's.
   */
  private async commitWaiting(dataSource: DataSource): Promise<void> {
    const inFlight = this.committing.get(dataSource) ?? 0;
    if (inFlight >= MAX_IN_FLIGHT) return;
    this.committing.set(dataSource, inFlight + 1);
    try {
      const waiting = this.waiting.get(dataSource)!;
      while (waiting.length) {
        const group = waiting.splice(0, MAX_GROUP);
        try {
          const outcomes = await this.applyAndCommit(dataSource, group.map((w) => w.input));
          group.forEach((w, i) => w.resolve(outcomes[i]));
        } catch (error) {
          if (group.length === 1) {
            group[0].reject(error);
            continue;
          }
          await Promise.all(
            group.map((w) => this.applyAndCommit(dataSource, [w.input]).then(([outcome]) => w.resolve(outcome), w.reject)),
          );
        }
      }
    } finally {
      const left = (this.committing.get(dataSource) ?? 1) - 1;
      if (left > 0) this.committing.set(dataSource, left);
      else {
        this.committing.delete(dataSource);
        if (!this.waiting.get(dataSource)?.length) this.waiting.delete(dataSource);
      }
    }
  }

  /** The posting engine on a connection of its own, autocommitted; retried like `withTransaction`. */
  private applyAndCommit(dataSource: DataSource, inputs: TransactionInput[]): Promise<Outcome[]> {
    return retrying(undefined, async () => {
      const queryRunner = dataSource.createQueryRunner();
      try {
        return await this.engine.apply(queryRunner, inputs);
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

  /**
   * `postMany` for a caller that sends the write itself, in one flight with what it commits with
   * it (`commitWith`): the statement, and the results of its rows. Statements in the same flight
   * can name a transaction by its key, before its id is known, with the SQL function
   * `ledger_posted_id(key)` (migration 1763700000022): the id of the transaction this database
   * transaction posted under that key, or an error, which rolls the flight back. So a flight
   * that commits rows pointing at a post never commits them without it, whatever the post
   * answered (refused, or the replay of an older transaction). One transaction only: a write of
   * several (`ledger_post_batch`) inserts each in a subtransaction, whose rows the function does
   * not recognise, so it fails (nothing is committed) for every one of them.
   */
  async preparePostMany(runner: SqlRunner, inputs: TransactionInput[]): Promise<PreparedPosts> {
    const write = await this.engine.prepare(runner, inputs);
    return {
      statement: write.statement,
      results: (found) =>
        write.finish(found).map((o) => (o.status === 'rejected' ? { status: 'rejected', reason: o.error.reason, message: o.error.message } : o)),
    };
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

  /**
   * `createHolds` in one round trip (`ledger_create_holds`): same checks, same all-or-nothing
   * answer, same lock order. Returns the new holds' ids in the order of `inputs`.
   */
  createHoldsInOneStatement(runner: SqlRunner, inputs: HoldInput[]): Promise<string[]> {
    return createHoldsInOneStatement(this.accounts, runner, inputs);
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

/** A `postMany` prepared to be sent in a flight (`Ledger.preparePostMany`). */
export interface PreparedPosts {
  /** The write; null when every transaction was refused before the database (see `results`). */
  statement: Statement | null;
  /** The results, as `postMany` answers them, from the statement's rows (none without a statement). */
  results(rows: unknown[]): BatchResult[];
}
