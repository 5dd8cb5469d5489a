import { LedgerError } from './ledger-errors.js';
import { rows } from './sql.js';
import type { Account, AccountInput, SqlRunner } from './types.js';

const MAX_SHARDS = 64;
/**
 * Account definitions kept in memory (~270 bytes each, so ≤ ~2.7 MiB). Far more than the accounts
 * posted to at any one time (the platform's, the wallets of active organizations, the first blocks
 * of active buyers, the listings being sold); a definition dropped is read again in the post that
 * needs it (one indexed read for all of a post's missing accounts). It was 50,000: at the soak's
 * purchase rates (a block each) that took one to four hours to fill, so the heap grew by it through
 * any shorter run (docs/BENCHMARKS.md, Soak).
 */
export const MAX_CACHED_ACCOUNTS = 10_000;

interface AccountRow {
  id: string;
  code: string;
  asset: string;
  scale: number;
  owner_ref: string | null;
  allow_negative: boolean;
  allow_positive: boolean;
  shards: number;
}

const ACCOUNT_COLUMNS = `a.id::text AS id, a.code, a.asset, s.scale, a.owner_ref, a.allow_negative,
  a.allow_positive, a.shards`;

function toAccount(r: AccountRow): Account {
  return {
    id: r.id,
    code: r.code,
    asset: r.asset,
    scale: Number(r.scale),
    ownerRef: r.owner_ref,
    allowNegative: r.allow_negative,
    allowPositive: r.allow_positive,
    shards: Number(r.shards),
  };
}

/**
 * Accounts are immutable once created (the database refuses updates), so their definitions are
 * cached for the life of the process: the hot path never re-reads them.
 */
export class AccountRegistry {
  private readonly cache = new Map<string, Account>();

  async create(runner: SqlRunner, input: AccountInput): Promise<Account> {
    const shards = input.shards ?? 1;
    if (!input.code || input.code.length > 200) {
      throw new LedgerError('INVALID_TRANSACTION', 'account code must be 1 to 200 characters');
    }
    if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS) {
      throw new LedgerError('INVALID_TRANSACTION', `shards must be an integer from 1 to ${MAX_SHARDS}`);
    }
    if (shards > 1 && !(input.allowNegative && input.allowPositive)) {
      // A limit is checked against one balance; only unlimited accounts can be split.
      throw new LedgerError('INVALID_TRANSACTION', 'only accounts without limits may be sharded');
    }
    if (!input.allowNegative && !input.allowPositive) {
      throw new LedgerError('INVALID_TRANSACTION', 'an account must be allowed to move one way at least');
    }
    const inserted = await rows<AccountRow>(
      runner,
      `WITH ins AS (
         INSERT INTO ledger_accounts (code, asset, owner_ref, allow_negative, allow_positive, shards, metadata)
         SELECT $1, $2, $3, $4, $5, $6, $7::jsonb
         WHERE EXISTS (SELECT 1 FROM ledger_assets WHERE code = $2)
         ON CONFLICT (code) DO NOTHING
         RETURNING *
       ), bal AS (
         INSERT INTO ledger_balances (account_id, shard, allow_negative, allow_positive)
         SELECT ins.id, g.shard, ins.allow_negative, ins.allow_positive
         FROM ins, generate_series(0, ins.shards - 1) AS g(shard)
       )
       SELECT ${ACCOUNT_COLUMNS} FROM ins a JOIN ledger_assets s ON s.code = a.asset`,
      [
        input.code,
        input.asset,
        input.ownerRef ?? null,
        input.allowNegative,
        input.allowPositive,
        shards,
        JSON.stringify(input.metadata ?? {}),
      ],
    );
    if (inserted.length === 1) return this.remember(toAccount(inserted[0]));

    const existing = await this.byCode(runner, input.code);
    if (!existing) throw new LedgerError('INVALID_TRANSACTION', `unknown asset ${input.asset}`);
    const same =
      existing.asset === input.asset &&
      existing.allowNegative === input.allowNegative &&
      existing.allowPositive === input.allowPositive &&
      // An account grown to more shards (growShards) is the account asked for: a build that
      // still asks for fewer (a rollback) gets it as it is, and posts spread over all of them.
      (existing.shards === shards || (existing.shards > shards && existing.allowNegative && existing.allowPositive)) &&
      existing.ownerRef === (input.ownerRef ?? null);
    if (!same) {
      throw new LedgerError('ACCOUNT_CONFLICT', `account ${input.code} exists with a different definition`);
    }
    return existing;
  }

  /**
   * Spreads an unlimited account's balance over `shards` rows instead of fewer: the new rows start
   * at zero, so the balance (the sum over rows) is unchanged, and posts pick a row among all of
   * them from then on (fewer writers meeting on one row). Shards only grow: the rows that exist
   * hold the balance. Returns the account as it is now (unchanged when it already has as many),
   * or null when no account has that code. Safe beside running posts and other processes, whose
   * cached definitions keep picking among the first rows until they restart.
   */
  async growShards(runner: SqlRunner, code: string, shards: number): Promise<Account | null> {
    if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS) {
      throw new LedgerError('INVALID_TRANSACTION', `shards must be an integer from 1 to ${MAX_SHARDS}`);
    }
    const existing = await this.byCode(runner, code);
    if (!existing || existing.shards === shards) return existing;
    if (existing.shards > shards) {
      throw new LedgerError('INVALID_TRANSACTION', `account ${code} has ${existing.shards} shards; shards can only grow`);
    }
    if (!(existing.allowNegative && existing.allowPositive)) {
      throw new LedgerError('INVALID_TRANSACTION', 'only accounts without limits may be sharded');
    }
    // The account row's lock orders two processes growing it at once; the rows are added first.
    await rows(
      runner,
      `WITH acc AS (
         UPDATE ledger_accounts SET shards = $2 WHERE id = $1 AND shards < $2
         RETURNING id, allow_negative, allow_positive
       )
       INSERT INTO ledger_balances (account_id, shard, allow_negative, allow_positive)
       SELECT acc.id, g.shard, acc.allow_negative, acc.allow_positive FROM acc, generate_series(0, $2 - 1) AS g(shard)
       ON CONFLICT (account_id, shard) DO NOTHING`,
      [existing.id, shards],
    );
    return this.byCode(runner, code);
  }

  async byCode(runner: SqlRunner, code: string): Promise<Account | null> {
    const found = await rows<AccountRow>(
      runner,
      `SELECT ${ACCOUNT_COLUMNS} FROM ledger_accounts a JOIN ledger_assets s ON s.code = a.asset WHERE a.code = $1`,
      [code],
    );
    return found.length ? this.remember(toAccount(found[0])) : null;
  }

  /** The accounts among `ids` that exist, by id (cached after the first read). */
  async load(runner: SqlRunner, ids: Iterable<string>): Promise<Map<string, Account>> {
    const result = new Map<string, Account>();
    const missing: string[] = [];
    for (const id of new Set(ids)) {
      const cached = this.cache.get(id);
      if (cached) result.set(id, cached);
      else if (/^[1-9][0-9]{0,17}$/.test(id)) missing.push(id);
    }
    if (missing.length) {
      const found = await rows<AccountRow>(
        runner,
        `SELECT ${ACCOUNT_COLUMNS} FROM ledger_accounts a JOIN ledger_assets s ON s.code = a.asset
         WHERE a.id = ANY($1::bigint[])`,
        [missing],
      );
      for (const r of found) result.set(r.id, this.remember(toAccount(r)));
    }
    return result;
  }

  async get(runner: SqlRunner, id: string): Promise<Account> {
    const account = (await this.load(runner, [id])).get(id);
    if (!account) throw new LedgerError('ACCOUNT_NOT_FOUND', `account ${id} does not exist`, { accountId: id });
    return account;
  }

  private remember(account: Account): Account {
    // Bounded: every block, listing and reservation has an account, so an unbounded cache would
    // grow for the life of the process. A Map iterates in insertion order: drop the oldest.
    this.cache.delete(account.id);
    this.cache.set(account.id, account);
    if (this.cache.size > MAX_CACHED_ACCOUNTS) this.cache.delete(this.cache.keys().next().value!);
    return account;
  }
}
