import { Decimal } from '@ccx/core';
import { createLedgerTestDatabase, type LedgerTestDatabase } from '../test/ledger-test-db.js';
import { Ledger } from './ledger.js';
import { LedgerError } from './ledger-errors.js';
import type { Account } from './types.js';

/** Account history and statements: read from the entries, with running balances in business time. */
let db: LedgerTestDatabase;
const ledger = new Ledger();
let seq = 0;

beforeAll(async () => {
  db = await createLedgerTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

const account = (code: string, allowNegative = false): Promise<Account> =>
  ledger.createAccount(db.dataSource.manager, { code: `${code}-${++seq}`, asset: 'USD', allowNegative, allowPositive: true });

async function move(from: Account, to: Account, amount: string, at: string, kind = 'move', metadata: Record<string, unknown> = {}) {
  await ledger.transfer(db.dataSource.manager, {
    idempotencyKey: `k-${++seq}`,
    kind,
    metadata,
    effectiveAt: new Date(at),
    debitAccountId: from.id,
    creditAccountId: to.id,
    amount,
  });
}

it('lists entries newest first in business time, with the balance after each, page by page', async () => {
  const bank = await account('bank', true);
  const wallet = await account('wallet');
  const other = await account('other');
  await move(bank, wallet, '100.00', '2026-01-05T12:00:00Z', 'deposit', { reference: 'a' });
  await move(wallet, other, '30.00', '2026-01-20T00:00:00Z', 'spend');
  await move(bank, wallet, '5.50', '2026-02-01T00:00:00Z', 'deposit');
  // Written last, effective earlier (as servicing may post a past instant): it sorts by its instant.
  await move(wallet, other, '0.50', '2026-01-10T00:00:00Z', 'fee');

  const all = await ledger.entriesOf(db.dataSource.manager, wallet.id, { limit: 10 });
  expect(all.total).toBe(4);
  expect(all.hasMore).toBe(false);
  expect(all.entries.map((e) => [e.kind, e.amount.toFixed(2), e.balanceAfter.toFixed(2)])).toEqual([
    ['deposit', '5.50', '75.00'],
    ['spend', '-30.00', '69.50'],
    ['fee', '-0.50', '99.50'],
    ['deposit', '100.00', '100.00'],
  ]);
  expect(all.entries[3].metadata).toEqual({ reference: 'a' });
  const sum = all.entries.reduce((s, e) => s.plus(e.amount), new Decimal(0));
  expect(sum.toFixed(2)).toBe((await ledger.balance(db.dataSource.manager, wallet.id)).posted.toFixed(2));

  const pages: string[] = [];
  let before: string | null = null;
  for (;;) {
    const page = await ledger.entriesOf(db.dataSource.manager, wallet.id, { before, limit: 1 });
    pages.push(...page.entries.map((e) => `${e.id}:${e.balanceAfter.toFixed(2)}`));
    if (!page.hasMore) break;
    before = page.entries[page.entries.length - 1].id;
  }
  expect(pages).toEqual(all.entries.map((e) => `${e.id}:${e.balanceAfter.toFixed(2)}`));

  const statement = await ledger.statementOf(db.dataSource.manager, wallet.id, new Date('2026-01-10T00:00:00Z'), new Date('2026-02-01T00:00:00Z'));
  expect(statement.openingBalance.toFixed(2)).toBe('100.00');
  expect(statement.entries.map((e) => [e.kind, e.balanceAfter.toFixed(2)])).toEqual([['fee', '99.50'], ['spend', '69.50']]);
  expect(statement.closingBalance.toFixed(2)).toBe('69.50');

  // A cursor from another account is refused.
  const otherEntries = await ledger.entriesOf(db.dataSource.manager, other.id);
  await expect(ledger.entriesOf(db.dataSource.manager, wallet.id, { before: otherEntries.entries[0].id })).rejects.toBeInstanceOf(LedgerError);
  await expect(ledger.entriesOf(db.dataSource.manager, wallet.id, { before: 'x' })).rejects.toBeInstanceOf(LedgerError);
});
