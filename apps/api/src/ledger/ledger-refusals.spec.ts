import { DomainError } from '@ccx/core';
import { Ledger, LedgerError, type LedgerReason } from '@ccx/ledger';
import { inPublicTerms, LedgerRefusal, publicCodeOf, refusingInPublicTerms } from './ledger-refusals.js';

describe('publicCodeOf', () => {
  it.each<[LedgerReason, string]>([
    ['INVALID_AMOUNT', 'BAD_USER_INPUT'],
    ['INVALID_TRANSACTION', 'BAD_USER_INPUT'],
    ['UNBALANCED', 'BAD_USER_INPUT'],
    ['ACCOUNT_NOT_FOUND', 'NOT_FOUND'],
    ['ACCOUNT_CONFLICT', 'INVALID_STATE'],
    ['LIMIT_EXCEEDED', 'INSUFFICIENT_FUNDS'],
    ['IDEMPOTENCY_CONFLICT', 'IDEMPOTENCY_CONFLICT'],
    ['HOLD_NOT_FOUND', 'NOT_FOUND'],
    ['HOLD_RESOLVED', 'INVALID_STATE'],
    ['HOLD_EXPIRED', 'INVALID_STATE'],
  ])('%s is %s', (reason, code) => {
    expect(publicCodeOf(reason)).toBe(code);
  });
});

describe('inPublicTerms', () => {
  it('turns a ledger refusal into a DomainError with its reason first in details', () => {
    const refusal = inPublicTerms(new LedgerError('INVALID_AMOUNT', 'amount must be positive', { problem: 'NOT_POSITIVE' }));
    expect(refusal).toBeInstanceOf(LedgerRefusal);
    expect(refusal).toBeInstanceOf(DomainError);
    expect(refusal).toMatchObject({
      code: 'BAD_USER_INPUT',
      reason: 'INVALID_AMOUNT',
      message: 'amount must be positive',
      details: { reason: 'INVALID_AMOUNT', problem: 'NOT_POSITIVE' },
    });
  });

  it('leaves anything else alone', () => {
    const other = new Error('boom');
    expect(inPublicTerms(other)).toBe(other);
  });
});

describe('refusingInPublicTerms', () => {
  const noRows = { query: async () => [] };

  it('rejects with a LedgerRefusal where the ledger rejects with a LedgerError', async () => {
    const ledger = refusingInPublicTerms(new Ledger());
    await expect(ledger.balance(noRows, '42')).rejects.toMatchObject({
      constructor: LedgerRefusal,
      code: 'NOT_FOUND',
      message: 'account 42 does not exist',
      details: { reason: 'ACCOUNT_NOT_FOUND', accountId: '42' },
    });
  });

  it('passes results through and is still a Ledger', async () => {
    const ledger = refusingInPublicTerms(new Ledger());
    expect(ledger).toBeInstanceOf(Ledger);
    expect(await ledger.balances(noRows, ['1'])).toEqual(new Map());
    expect(ledger.balances).toBe(ledger.balances);
  });
});
