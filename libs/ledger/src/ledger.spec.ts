import { Decimal } from '@ccx/core';
import { createLedgerTestDatabase, type LedgerTestDatabase } from '../test/ledger-test-db.js';
import { Ledger } from './ledger.js';
import { LedgerError } from './ledger-errors.js';
import { withTransaction } from './transaction.js';
import type { Account } from './types.js';

const T0 = new Date('2026-01-05T12:00:00.000Z');
let db: LedgerTestDatabase;
let ledger: Ledger;
let seq = 0;

beforeAll(async () => {
  db = await createLedgerTestDatabase();
});
afterAll(async () => {
  await db.drop();
});
beforeEach(() => {
  ledger = new Ledger();
});

const key = (label: string) => `${label}-${++seq}`;

async function account(code: string, opts: Partial<{ asset: string; allowNegative: boolean; allowPositive: boolean; shards: number }> = {}): Promise<Account> {
  return ledger.createAccount(db.dataSource.manager, {
    code: `${code}-${++seq}`,
    asset: opts.asset ?? 'USD',
    allowNegative: opts.allowNegative ?? false,
    allowPositive: opts.allowPositive ?? true,
    shards: opts.shards,
  });
}

/** A source that may go negative (the outside world), and a funded wallet. */
async function fundedWallet(amount: string, asset = 'USD'): Promise<{ source: Account; wallet: Account }> {
  const source = await account('source', { asset, allowNegative: true });
  const wallet = await account('wallet', { asset });
  await ledger.transfer(db.dataSource.manager, {
    idempotencyKey: key('fund'),
    kind: 'deposit',
    effectiveAt: T0,
    debitAccountId: source.id,
    creditAccountId: wallet.id,
    amount,
  });
  return { source, wallet };
}

async function posted(id: string): Promise<string> {
  return (await ledger.balance(db.dataSource.manager, id)).posted.toFixed();
}

async function expectLedgerError(promise: Promise<unknown>, reason: string): Promise<void> {
  const error = await promise.then(
    () => null,
    (e) => e,
  );
  expect(error).toBeInstanceOf(LedgerError);
  expect((error as LedgerError).reason).toBe(reason);
}

describe('accounts', () => {
  it('creates an account once and returns it again for the same definition', async () => {
    const input = { code: key('acct'), asset: 'USD', allowNegative: false, allowPositive: true };
    const a = await ledger.createAccount(db.dataSource.manager, input);
    const b = await ledger.createAccount(db.dataSource.manager, input);
    expect(b.id).toBe(a.id);
    expect(a.scale).toBe(2);
    await expectLedgerError(ledger.createAccount(db.dataSource.manager, { ...input, allowNegative: true }), 'ACCOUNT_CONFLICT');
  });

  it('refuses unknown assets and sharded limited accounts', async () => {
    await expect(ledger.createAccount(db.dataSource.manager, { code: key('x'), asset: 'EUR', allowNegative: false, allowPositive: true })).rejects.toThrow(LedgerError);
    await expectLedgerError(
      ledger.createAccount(db.dataSource.manager, { code: key('x'), asset: 'USD', allowNegative: false, allowPositive: true, shards: 4 }),
      'INVALID_TRANSACTION',
    );
  });
});

describe('post', () => {
  it('moves money between accounts and keeps per-asset sums at zero', async () => {
    const { source, wallet } = await fundedWallet('100.00');
    expect(await posted(wallet.id)).toBe('100');
    expect(await posted(source.id)).toBe('-100');
  });

  it('posts many legs across two assets in one transaction', async () => {
    const usd = await fundedWallet('50.00');
    const cr = await fundedWallet('10', 'CREDIT');
    const seller = await account('seller');
    const buyerCredits = await account('buyer-credits', { asset: 'CREDIT' });
    const tx = await ledger.post(db.dataSource.manager, {
      idempotencyKey: key('multi'),
      kind: 'purchase',
      effectiveAt: T0,
      postings: [
        { accountId: usd.wallet.id, direction: 'DEBIT', amount: '30.00' },
        { accountId: seller.id, direction: 'CREDIT', amount: '25.50' },
        { accountId: usd.source.id, direction: 'CREDIT', amount: '4.50' },
        { accountId: cr.wallet.id, direction: 'DEBIT', amount: '2.500001' },
        { accountId: buyerCredits.id, direction: 'CREDIT', amount: '2.500001' },
      ],
    });
    expect(tx.replayed).toBe(false);
    expect(await posted(usd.wallet.id)).toBe('20');
    expect(await posted(seller.id)).toBe('25.5');
    expect(await posted(buyerCredits.id)).toBe('2.500001');
  });

  it('rejects an unbalanced transaction and writes nothing', async () => {
    const { wallet } = await fundedWallet('10.00');
    const other = await account('other');
    await expectLedgerError(
      ledger.post(db.dataSource.manager, {
        idempotencyKey: key('unbalanced'),
        kind: 'bad',
        effectiveAt: T0,
        postings: [
          { accountId: wallet.id, direction: 'DEBIT', amount: '5.00' },
          { accountId: other.id, direction: 'CREDIT', amount: '4.99' },
        ],
      }),
      'UNBALANCED',
    );
    expect(await posted(wallet.id)).toBe('10');
    expect(await posted(other.id)).toBe('0');
  });

  it.each(['0', '0.00', '-1.00', '1.001', 'NaN', 'Infinity', '1e2', 'ten', ''])('rejects amount %p as INVALID_AMOUNT', async (amount) => {
    const { wallet } = await fundedWallet('10.00');
    const other = await account('other');
    await expectLedgerError(
      ledger.transfer(db.dataSource.manager, {
        idempotencyKey: key('bad-amount'),
        kind: 't',
        effectiveAt: T0,
        debitAccountId: wallet.id,
        creditAccountId: other.id,
        amount,
      }),
      'INVALID_AMOUNT',
    );
    expect(await posted(wallet.id)).toBe('10');
  });

  it('refuses a JS number even from domain code', async () => {
    const { wallet } = await fundedWallet('10.00');
    const other = await account('other');
    await expectLedgerError(
      ledger.transfer(db.dataSource.manager, {
        idempotencyKey: key('float'),
        kind: 't',
        effectiveAt: T0,
        debitAccountId: wallet.id,
        creditAccountId: other.id,
        amount: 0.1 as unknown as string,
      }),
      'INVALID_AMOUNT',
    );
  });

  it('rejects a debit beyond a limit with a typed error, and the whole transaction with it', async () => {
    const { wallet } = await fundedWallet('10.00');
    const other = await account('other');
    const third = await account('third');
    await expectLedgerError(
      ledger.post(db.dataSource.manager, {
        idempotencyKey: key('over'),
        kind: 't',
        effectiveAt: T0,
        postings: [
          { accountId: wallet.id, direction: 'DEBIT', amount: '10.01' },
          { accountId: other.id, direction: 'CREDIT', amount: '5.00' },
          { accountId: third.id, direction: 'CREDIT', amount: '5.01' },
        ],
      }),
      'LIMIT_EXCEEDED',
    );
    expect(await posted(wallet.id)).toBe('10');
    expect(await posted(other.id)).toBe('0');
  });

  it('enforces "may not go positive"', async () => {
    const capped = await account('capped', { allowNegative: true, allowPositive: false });
    const source = await account('src', { allowNegative: true });
    await expectLedgerError(
      ledger.transfer(db.dataSource.manager, { idempotencyKey: key('pos'), kind: 't', effectiveAt: T0, debitAccountId: source.id, creditAccountId: capped.id, amount: '1.00' }),
      'LIMIT_EXCEEDED',
    );
    // The error names the account the database found over its limit, and which limit.
    await expect(
      ledger.transfer(db.dataSource.manager, { idempotencyKey: key('pos'), kind: 't', effectiveAt: T0, debitAccountId: source.id, creditAccountId: capped.id, amount: '0.01' }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/^account capped-\d+ cannot go above zero$/), details: expect.objectContaining({ accountId: capped.id }) });
    await ledger.transfer(db.dataSource.manager, { idempotencyKey: key('neg'), kind: 't', effectiveAt: T0, debitAccountId: capped.id, creditAccountId: source.id, amount: '1.00' });
    expect(await posted(capped.id)).toBe('-1');
  });

  it('rejects unknown accounts and assets that do not match', async () => {
    const usd = await account('usd', { allowNegative: true });
    const credit = await account('cr', { asset: 'CREDIT' });
    await expectLedgerError(
      ledger.transfer(db.dataSource.manager, { idempotencyKey: key('unk'), kind: 't', effectiveAt: T0, debitAccountId: usd.id, creditAccountId: '999999999', amount: '1.00' }),
      'ACCOUNT_NOT_FOUND',
    );
    await expectLedgerError(
      ledger.transfer(db.dataSource.manager, { idempotencyKey: key('mix'), kind: 't', effectiveAt: T0, debitAccountId: usd.id, creditAccountId: credit.id, amount: '1.00' }),
      'UNBALANCED',
    );
  });

  it('replays the same key and content without writing, and refuses the same key with other content', async () => {
    const { wallet } = await fundedWallet('10.00');
    const other = await account('other');
    const input = { idempotencyKey: key('idem'), kind: 't', effectiveAt: T0, debitAccountId: wallet.id, creditAccountId: other.id, amount: '3.00' };
    const first = await ledger.transfer(db.dataSource.manager, input);
    const second = await ledger.transfer(db.dataSource.manager, { ...input, effectiveAt: new Date(T0.getTime() + 1000) });
    expect(second.id).toBe(first.id);
    expect(second.replayed).toBe(true);
    expect(second.effectiveAt.toISOString()).toBe(T0.toISOString());
    expect(await posted(wallet.id)).toBe('7');
    await expectLedgerError(ledger.transfer(db.dataSource.manager, { ...input, amount: '3.01' }), 'IDEMPOTENCY_CONFLICT');
    // A replay succeeds even when the balance could no longer pay for it.
    await ledger.transfer(db.dataSource.manager, { ...input, idempotencyKey: key('drain'), amount: '7.00' });
    expect((await ledger.transfer(db.dataSource.manager, input)).id).toBe(first.id);
  });

  it('commits or rolls back with the caller\'s transaction', async () => {
    const { wallet } = await fundedWallet('10.00');
    const other = await account('other');
    await expect(
      db.dataSource.transaction(async (manager) => {
        await ledger.transfer(manager, { idempotencyKey: key('rb'), kind: 't', effectiveAt: T0, debitAccountId: wallet.id, creditAccountId: other.id, amount: '4.00' });
        throw new Error('domain failure after posting');
      }),
    ).rejects.toThrow('domain failure');
    expect(await posted(wallet.id)).toBe('10');
  });
});

describe('posts in a transaction of their own (postAndCommit, transferAndCommit)', () => {
  it('moves money, replays, refuses a conflict, a limit and an unknown account, as post does', async () => {
    const { wallet } = await fundedWallet('10.00');
    const other = await account('other');
    const input = { idempotencyKey: key('own'), kind: 't', effectiveAt: T0, debitAccountId: wallet.id, creditAccountId: other.id, amount: '3.00' };
    const first = await ledger.transferAndCommit(db.dataSource, input);
    expect(first.replayed).toBe(false);
    const again = await ledger.transferAndCommit(db.dataSource, { ...input, effectiveAt: new Date(T0.getTime() + 1000) });
    expect(again).toMatchObject({ id: first.id, replayed: true });
    expect(again.effectiveAt.toISOString()).toBe(T0.toISOString());
    await expectLedgerError(ledger.transferAndCommit(db.dataSource, { ...input, amount: '3.01' }), 'IDEMPOTENCY_CONFLICT');
    await expectLedgerError(ledger.transferAndCommit(db.dataSource, { ...input, idempotencyKey: key('over'), amount: '7.01' }), 'LIMIT_EXCEEDED');
    await expectLedgerError(
      ledger.transferAndCommit(db.dataSource, { ...input, idempotencyKey: key('unk'), creditAccountId: '999999999' }),
      'ACCOUNT_NOT_FOUND',
    );
    expect(await posted(wallet.id)).toBe('7');
    expect(await posted(other.id)).toBe('3');
    expect((await ledger.verify(db.dataSource)).balanced).toBe(true);
  });

  it('answers concurrent posts of one key with one transaction, and never overdraws under concurrency', async () => {
    const { wallet } = await fundedWallet('10.00');
    const other = await account('other');
    const same = { idempotencyKey: key('race'), kind: 't', effectiveAt: T0, debitAccountId: wallet.id, creditAccountId: other.id, amount: '1.00' };
    const replies = await Promise.all(Array.from({ length: 10 }, () => ledger.transferAndCommit(db.dataSource, same)));
    expect(new Set(replies.map((r) => r.id)).size).toBe(1);
    expect(replies.filter((r) => !r.replayed)).toHaveLength(1);
    expect(await posted(wallet.id)).toBe('9');
    // 12 distinct transfers of 1.00 against 9.00: exactly 9 go through.
    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, () => ledger.transferAndCommit(db.dataSource, { ...same, idempotencyKey: key('drain') })),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(9);
    for (const o of outcomes) if (o.status === 'rejected') expect((o.reason as LedgerError).reason).toBe('LIMIT_EXCEEDED');
    expect(await posted(wallet.id)).toBe('0');
    expect(await posted(other.id)).toBe('10');
  });
});

describe('group commit (postAndCommit)', () => {
  it('answers each of many concurrent posts on its own, and a post that cannot be written fails alone', async () => {
    const { wallet } = await fundedWallet('100.00');
    const other = await account('other');
    const base = { kind: 't', effectiveAt: T0, debitAccountId: wallet.id, creditAccountId: other.id, amount: '1.00' };
    const calls = Array.from({ length: 30 }, (_, i) =>
      ledger.transferAndCommit(db.dataSource, {
        ...base,
        idempotencyKey: key('group'),
        // One caller hands the ledger metadata it cannot serialize.
        metadata: i === 7 ? { n: BigInt(1) as unknown as number } : { i },
      }),
    );
    const outcomes = await Promise.allSettled(calls);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(29);
    expect(outcomes[7].status).toBe('rejected');
    expect(new Set(outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.id] : []))).size).toBe(29);
    expect(await posted(wallet.id)).toBe('71');
    expect((await ledger.verify(db.dataSource)).balanced).toBe(true);
  });
});

describe('withTransaction', () => {
  it('runs at READ COMMITTED by default and at the level asked for otherwise', async () => {
    const level = (isolation?: 'SERIALIZABLE' | 'REPEATABLE READ') =>
      withTransaction(
        db.dataSource,
        async (manager) => ((await manager.query(`SELECT current_setting('transaction_isolation') AS level`)) as { level: string }[])[0].level,
        isolation ? { isolation } : {},
      );
    expect(await level()).toBe('read committed');
    expect(await level('SERIALIZABLE')).toBe('serializable');
    expect(await level('REPEATABLE READ')).toBe('repeatable read');
    expect(await level()).toBe('read committed');
  });

  it('sends the ledger\'s write as a named statement on the transaction\'s connection', async () => {
    const { wallet } = await fundedWallet('10.00');
    const other = await account('other');
    const prepared = await withTransaction(db.dataSource, async (manager) => {
      await ledger.transfer(manager, { idempotencyKey: key('named'), kind: 't', effectiveAt: T0, debitAccountId: wallet.id, creditAccountId: other.id, amount: '1.00' });
      return (await manager.query(`SELECT name FROM pg_prepared_statements WHERE name = 'ccx_ledger_post_one'`)) as unknown[];
    });
    expect(prepared).toHaveLength(1);
    expect(await posted(other.id)).toBe('1');
  });
});

describe('posting functions', () => {
  it('plan once per connection, as index lookups (migration 1763700000021); the batch keeps the default', async () => {
    const found: { name: string; config: string[] | null }[] = await db.dataSource.query(
      `SELECT proname AS name, proconfig AS config FROM pg_proc WHERE proname = ANY($1) ORDER BY proname`,
      [['ledger_create_holds', 'ledger_post_batch', 'ledger_post_one', 'ledger_void_pending']],
    );
    const planned = ['enable_hashjoin=off', 'enable_mergejoin=off', 'plan_cache_mode=force_generic_plan'];
    expect(found.map((f) => [f.name, f.config ? [...f.config].sort() : null])).toEqual([
      ['ledger_create_holds', planned],
      ['ledger_post_batch', null],
      ['ledger_post_one', planned],
      ['ledger_void_pending', planned],
    ]);
  });
});

describe('database guarantees', () => {
  it('refuses UPDATE and DELETE of entries and transactions, and TRUNCATE', async () => {
    await fundedWallet('1.00');
    await expect(db.dataSource.query(`UPDATE ledger_entries SET amount = amount * 2`)).rejects.toThrow(/immutable/);
    await expect(db.dataSource.query(`DELETE FROM ledger_entries`)).rejects.toThrow(/immutable/);
    await expect(db.dataSource.query(`UPDATE ledger_transactions SET memo = 'x'`)).rejects.toThrow(/immutable/);
    await expect(db.dataSource.query(`DELETE FROM ledger_transactions`)).rejects.toThrow(/immutable/);
    await expect(db.dataSource.query(`TRUNCATE ledger_entries CASCADE`)).rejects.toThrow(/immutable/);
    await expect(db.dataSource.query(`UPDATE ledger_accounts SET allow_negative = true`)).rejects.toThrow(/immutable/);
    // Growing shards is the one change allowed (growShards), and only with nothing else changed.
    const hot = await account('guarded', { allowNegative: true, shards: 4 });
    await expect(db.dataSource.query(`UPDATE ledger_accounts SET shards = 3 WHERE id = $1`, [hot.id])).rejects.toThrow(/immutable/);
    await expect(db.dataSource.query(`UPDATE ledger_accounts SET shards = 5, owner_ref = 'x' WHERE id = $1`, [hot.id])).rejects.toThrow(/immutable/);
    await expect(db.dataSource.query(`DELETE FROM ledger_accounts WHERE id = $1`, [hot.id])).rejects.toThrow(/immutable/);
  });

  it('rejects an unbalanced set of entries written behind the library\'s back', async () => {
    const a = await account('a', { allowNegative: true });
    const b = await account('b');
    await expect(
      db.dataSource.query(
        `WITH t AS (INSERT INTO ledger_transactions (idempotency_key, request_hash, kind, effective_at) VALUES ($1, 'x', 'raw', now()) RETURNING id)
         INSERT INTO ledger_entries (transaction_id, account_id, asset, amount, effective_at)
         SELECT t.id, v.account_id, 'USD', v.amount, now() FROM t, (VALUES ($2::bigint, -5.00), ($3::bigint, 4.00)) AS v(account_id, amount)`,
        [key('raw'), a.id, b.id],
      ),
    ).rejects.toThrow(/unbalanced/);
    await expect(
      db.dataSource.query(
        `WITH t AS (INSERT INTO ledger_transactions (idempotency_key, request_hash, kind, effective_at) VALUES ($1, 'x', 'raw', now()) RETURNING id)
         INSERT INTO ledger_entries (transaction_id, account_id, asset, amount, effective_at)
         SELECT t.id, v.account_id, 'USD', v.amount, now() FROM t, (VALUES ($2::bigint, -5.001), ($3::bigint, 5.001)) AS v(account_id, amount)`,
        [key('raw'), a.id, b.id],
      ),
    ).rejects.toThrow(/decimals/);
    // No row-level foreign key any more: the statement trigger refuses an entry without its transaction.
    await expect(
      db.dataSource.query(
        `INSERT INTO ledger_entries (transaction_id, account_id, asset, amount, effective_at)
         SELECT 999999999, v.account_id, 'USD', v.amount, now() FROM (VALUES ($1::bigint, -5.00), ($2::bigint, 5.00)) AS v(account_id, amount)`,
        [a.id, b.id],
      ),
    ).rejects.toThrow(/unknown account or transaction/);
  });

  it('refuses a balance that would break a limit even when written directly', async () => {
    const { wallet } = await fundedWallet('5.00');
    await expect(db.dataSource.query(`UPDATE ledger_balances SET posted = -1 WHERE account_id = $1`, [wallet.id])).rejects.toThrow(
      /ledger_balance_not_negative/,
    );
  });
});

describe('sharded accounts', () => {
  it('spreads a hot unlimited account over shards and still sums correctly', async () => {
    const revenue = await account('revenue', { allowNegative: true, shards: 8 });
    const { wallet } = await fundedWallet('100.00');
    await Promise.all(
      Array.from({ length: 40 }, () =>
        withTransaction(db.dataSource, (m) =>
          ledger.transfer(m, { idempotencyKey: key('fee'), kind: 'fee', effectiveAt: T0, debitAccountId: wallet.id, creditAccountId: revenue.id, amount: '0.25' }),
        ),
      ),
    );
    expect(await posted(revenue.id)).toBe('10');
    const [{ used }] = await db.dataSource.query(`SELECT count(*)::int AS used FROM ledger_balances WHERE account_id = $1 AND posted <> 0`, [revenue.id]);
    expect(used).toBeGreaterThan(1);
  });
});

describe('growing an account\'s shards', () => {
  const fee = (m: Parameters<Ledger['transfer']>[0], from: Account, to: Account) =>
    ledger.transfer(m, { idempotencyKey: key('fee'), kind: 'fee', effectiveAt: T0, debitAccountId: from.id, creditAccountId: to.id, amount: '0.25' });

  it('adds zero rows, keeps the balance, and spreads later posts over every row, racing posts and a second grower', async () => {
    const revenue = await account('grown', { allowNegative: true, shards: 2 });
    const { wallet } = await fundedWallet('100.00');
    for (let i = 0; i < 8; i++) await fee(db.dataSource.manager, wallet, revenue);
    // Posts through this ledger (its definition cached at 2 shards) race two growers at once.
    const other = new Ledger();
    const [grownA, grownB] = await Promise.all([
      withTransaction(db.dataSource, (m) => ledger.growShards(m, revenue.code, 16)),
      withTransaction(db.dataSource, (m) => other.growShards(m, revenue.code, 16)),
      ...Array.from({ length: 8 }, () => withTransaction(db.dataSource, (m) => fee(m, wallet, revenue))),
    ]);
    expect([grownA!.shards, grownB!.shards]).toEqual([16, 16]);
    const rowsOf = async () =>
      (await db.dataSource.query(`SELECT shard, posted::text FROM ledger_balances WHERE account_id = $1 ORDER BY shard`, [revenue.id])) as { shard: number; posted: string }[];
    expect((await rowsOf()).map((r) => r.shard)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    expect(await posted(revenue.id)).toBe('4');
    // A fresh ledger reads the grown definition and posts beyond the first two rows.
    const fresh = new Ledger();
    await Promise.all(Array.from({ length: 40 }, () => withTransaction(db.dataSource, (m) => fresh.transfer(m, { idempotencyKey: key('fee'), kind: 'fee', effectiveAt: T0, debitAccountId: wallet.id, creditAccountId: revenue.id, amount: '0.25' }))));
    expect(await posted(revenue.id)).toBe('14');
    expect((await rowsOf()).some((r) => r.shard >= 2 && r.posted !== '0')).toBe(true);
    // A build that still asks for the old count (a rollback) gets the grown account, not a conflict.
    await expect(ledger.createAccount(db.dataSource.manager, { code: revenue.code, asset: 'USD', allowNegative: true, allowPositive: true, shards: 2 })).resolves.toMatchObject({ shards: 16 });
    await expectLedgerError(ledger.createAccount(db.dataSource.manager, { code: revenue.code, asset: 'USD', allowNegative: true, allowPositive: true, shards: 32 }), 'ACCOUNT_CONFLICT');
    // The same definition again is accepted as it is now; the ledger still verifies.
    await expect(ledger.createAccount(db.dataSource.manager, { code: revenue.code, asset: 'USD', allowNegative: true, allowPositive: true, shards: 16 })).resolves.toMatchObject({ shards: 16 });
    const report = await ledger.verify(db.dataSource);
    expect(report.problems).toEqual([]);
    expect(report.balanced).toBe(true);
  });

  it('is a no-op at the same count, refuses fewer shards and limited accounts, and knows no unknown code', async () => {
    const hot = await account('hot', { allowNegative: true, shards: 4 });
    const wallet = await account('limited');
    expect((await ledger.growShards(db.dataSource.manager, hot.code, 4))!.shards).toBe(4);
    await expectLedgerError(ledger.growShards(db.dataSource.manager, hot.code, 2), 'INVALID_TRANSACTION');
    await expectLedgerError(ledger.growShards(db.dataSource.manager, hot.code, 65), 'INVALID_TRANSACTION');
    await expectLedgerError(ledger.growShards(db.dataSource.manager, wallet.code, 2), 'INVALID_TRANSACTION');
    expect(await ledger.growShards(db.dataSource.manager, 'no-such-account', 2)).toBeNull();
    const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM ledger_balances WHERE account_id = ANY($1::bigint[])`, [[hot.id, wallet.id]]);
    expect(n).toBe(5);
  });
});

describe('balances and entries', () => {
  it('answers the balance as of a past instant', async () => {
    const { wallet, source } = await fundedWallet('10.00');
    const later = new Date(T0.getTime() + 86_400_000);
    await ledger.transfer(db.dataSource.manager, { idempotencyKey: key('later'), kind: 'deposit', effectiveAt: later, debitAccountId: source.id, creditAccountId: wallet.id, amount: '5.00' });
    expect((await ledger.balanceAt(db.dataSource.manager, wallet.id, new Date(T0.getTime() - 1))).toFixed()).toBe('0');
    expect((await ledger.balanceAt(db.dataSource.manager, wallet.id, T0)).toFixed()).toBe('10');
    expect((await ledger.balanceAt(db.dataSource.manager, wallet.id, later)).toFixed()).toBe('15');
  });

  it('pages entries with the balance before and after each', async () => {
    const { wallet, source } = await fundedWallet('1.00');
    for (let i = 2; i <= 5; i++) {
      await ledger.transfer(db.dataSource.manager, { idempotencyKey: key('e'), kind: 'deposit', effectiveAt: T0, debitAccountId: source.id, creditAccountId: wallet.id, amount: `${i}.00` });
    }
    const page1 = await ledger.entries(db.dataSource.manager, wallet.id, { first: 2 });
    expect(page1.hasNextPage).toBe(true);
    expect(page1.entries.map((e) => [e.balanceBefore.toFixed(), e.amount.toFixed(), e.balanceAfter.toFixed()])).toEqual([
      ['0', '1', '1'],
      ['1', '2', '3'],
    ]);
    const page2 = await ledger.entries(db.dataSource.manager, wallet.id, { first: 10, after: page1.endCursor });
    expect(page2.hasNextPage).toBe(false);
    expect(page2.entries.map((e) => [e.balanceBefore.toFixed(), e.balanceAfter.toFixed()])).toEqual([
      ['3', '6'],
      ['6', '10'],
      ['10', '15'],
    ]);
  });
});

describe('verify', () => {
  it('reports a consistent ledger with its counts', async () => {
    await fundedWallet('3.00');
    const report = await ledger.verify(db.dataSource);
    expect(report.problems).toEqual([]);
    expect(report.balanced).toBe(true);
    expect(report.accountsChecked).toBeGreaterThan(1);
    expect(report.transactionsChecked).toBeGreaterThan(0);
  });

  it('detects a stored balance that drifted from its entries', async () => {
    const scratch = await createLedgerTestDatabase();
    try {
      const l = new Ledger();
      const src = await l.createAccount(scratch.dataSource.manager, { code: 'src', asset: 'USD', allowNegative: true, allowPositive: true });
      const dst = await l.createAccount(scratch.dataSource.manager, { code: 'dst', asset: 'USD', allowNegative: false, allowPositive: true });
      await l.transfer(scratch.dataSource.manager, { idempotencyKey: 'k', kind: 't', effectiveAt: T0, debitAccountId: src.id, creditAccountId: dst.id, amount: '2.00' });
      await scratch.dataSource.query(`UPDATE ledger_balances SET posted = posted + 1 WHERE account_id = $1`, [dst.id]);
      const report = await l.verify(scratch.dataSource);
      expect(report.balanced).toBe(false);
      expect(report.problems.join('\n')).toMatch(/sum to 1/);
      expect(report.problems.join('\n')).toMatch(new RegExp(`account ${dst.id}: stored 3`));
    } finally {
      await scratch.drop();
    }
  });
});

export { Decimal };
