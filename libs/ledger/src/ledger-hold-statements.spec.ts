import { createLedgerTestDatabase, type LedgerTestDatabase } from '../test/ledger-test-db.js';
import { holdFixtures, LATER, T0 } from '../test/hold-fixtures.js';
import { Ledger } from './ledger.js';
import { LedgerError } from './ledger-errors.js';
import { withTransaction } from './transaction.js';
import type { Account } from './types.js';

/**
 * Holds in bulk as one statement each (migration 1763700000018): `createHoldsInOneStatement`
 * answers like `createHolds` (all or nothing, limits judged per account), and
 * `ledger_void_pending` releases like `voidHolds` (the pending ones only).
 */

let db: LedgerTestDatabase;
const ledger = new Ledger();
const { funded, next } = holdFixtures(ledger, () => db);

beforeAll(async () => {
  db = await createLedgerTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

const hold = (wallet: Account, sink: Account, amount: string) => ({
  idempotencyKey: `h-${next()}`,
  debitAccountId: wallet.id,
  creditAccountId: sink.id,
  amount,
  expiresAt: LATER,
  metadata: { n: next() },
});

const balance = async (a: Account) => {
  const b = await ledger.balance(db.dataSource.manager, a.id);
  return [b.posted.toFixed(2), b.held.toFixed(2), b.available.toFixed(2)];
};

describe('createHoldsInOneStatement', () => {
  it('creates every hold in order and raises held by their sum; each replays through createHold as the same hold', async () => {
    const { wallet, sink } = await funded('10.00');
    const inputs = [hold(wallet, sink, '3.00'), hold(wallet, sink, '4.00')];
    const ids = await withTransaction(db.dataSource, (m) => ledger.createHoldsInOneStatement(m, inputs));
    expect(ids).toHaveLength(2);
    expect(await balance(wallet)).toEqual(['10.00', '7.00', '3.00']);
    const stored = await Promise.all(ids.map((id) => ledger.hold(db.dataSource.manager, id)));
    expect(stored.map((h) => [h.status, h.amount.toFixed(2), h.idempotencyKey])).toEqual([
      ['PENDING', '3.00', inputs[0].idempotencyKey],
      ['PENDING', '4.00', inputs[1].idempotencyKey],
    ]);
    // Same request hash as HoldBook's: a replay of the same hold is answered with it.
    const replay = await withTransaction(db.dataSource, (m) => ledger.createHold(m, inputs[1]));
    expect(replay.id).toBe(ids[1]);
    expect(await balance(wallet)).toEqual(['10.00', '7.00', '3.00']);
  });

  it('refuses the whole batch when the sum exceeds what is available, and creates nothing', async () => {
    const { wallet, sink } = await funded('10.00');
    await expect(
      withTransaction(db.dataSource, (m) => ledger.createHoldsInOneStatement(m, [hold(wallet, sink, '6.00'), hold(wallet, sink, '5.00')])),
    ).rejects.toMatchObject({ reason: 'LIMIT_EXCEEDED' });
    expect(await balance(wallet)).toEqual(['10.00', '0.00', '10.00']);
    const [n] = await db.dataSource.query(`SELECT count(*)::int AS n FROM ledger_holds WHERE debit_account_id = $1`, [wallet.id]);
    expect(n.n).toBe(0);
  });

  it('refuses a key already used or repeated in the batch, and creates nothing', async () => {
    const { wallet, sink } = await funded('10.00');
    const h = hold(wallet, sink, '1.00');
    await expect(withTransaction(db.dataSource, (m) => ledger.createHoldsInOneStatement(m, [h, h]))).rejects.toBeInstanceOf(LedgerError);
    await withTransaction(db.dataSource, (m) => ledger.createHoldsInOneStatement(m, [h]));
    await expect(
      withTransaction(db.dataSource, (m) => ledger.createHoldsInOneStatement(m, [hold(wallet, sink, '2.00'), h])),
    ).rejects.toMatchObject({ reason: 'IDEMPOTENCY_CONFLICT' });
    expect(await balance(wallet)).toEqual(['10.00', '1.00', '9.00']);
  });

  it('concurrent batches on one account never hold more than it has', async () => {
    const { wallet, sink } = await funded('10.00');
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, () => withTransaction(db.dataSource, (m) => ledger.createHoldsInOneStatement(m, [hold(wallet, sink, '1.00'), hold(wallet, sink, '1.00')]))),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason.reason === 'LIMIT_EXCEEDED')).toBe(true);
    expect(await balance(wallet)).toEqual(['10.00', '10.00', '0.00']);
  });
});

describe('ledger_void_pending', () => {
  it('releases the pending holds only, and returns them', async () => {
    const { wallet, sink } = await funded('10.00');
    const [a, b, c] = await withTransaction(db.dataSource, (m) =>
      ledger.createHoldsInOneStatement(m, [hold(wallet, sink, '2.00'), hold(wallet, sink, '3.00'), hold(wallet, sink, '1.00')]),
    );
    await withTransaction(db.dataSource, (m) => ledger.postHold(m, { holdId: b, amount: '1.00', effectiveAt: T0 }));
    const released: { id: string; amount: string }[] = await withTransaction(db.dataSource, (m) =>
      m.query(`SELECT id::text AS id, amount::text AS amount FROM ledger_void_pending($1::bigint[], $2)`, [[a, b, c], T0]),
    );
    expect(released.map((r) => [r.id, r.amount]).sort()).toEqual([[a, '2'], [c, '1']].sort());
    expect(await balance(wallet)).toEqual(['9.00', '0.00', '9.00']);
    expect((await ledger.hold(db.dataSource.manager, a)).status).toBe('VOIDED');
    expect((await ledger.hold(db.dataSource.manager, b)).status).toBe('POSTED');
    // Again: nothing left to release.
    const again = await withTransaction(db.dataSource, (m) => m.query(`SELECT id FROM ledger_void_pending($1::bigint[], $2)`, [[a, b, c], T0]));
    expect(again).toEqual([]);
    expect(await balance(wallet)).toEqual(['9.00', '0.00', '9.00']);
  });
});
