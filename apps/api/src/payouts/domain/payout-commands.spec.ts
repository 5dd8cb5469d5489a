import { parseMarkPayoutPaid, parseRejectPayout, parseRequestPayout } from './payout-commands.js';
import { refusalOf as refusal } from '../../../../../test/support/refusal.js';

const ID = '7d3c6f1e-2b4a-4c1d-9e8f-0a1b2c3d4e5f';

describe('payout commands', () => {
  it('parse the request and the decisions', () => {
    const request = parseRequestPayout('org', { amount: '10.5', idempotencyKey: ' k1 ' });
    expect([request.organizationId, request.amount.toFixed(2), request.idempotencyKey]).toEqual(['org', '10.50', 'k1']);
    expect(parseMarkPayoutPaid(ID, 'wire 7')).toEqual({ payoutId: ID, event: { type: 'MARK_PAID', reference: 'wire 7' } });
    expect(parseRejectPayout(ID.toUpperCase(), 'no')).toEqual({ payoutId: ID, event: { type: 'REJECT', reason: 'no' } });
  });

  it.each([
    [() => parseRequestPayout('org', { amount: '0', idempotencyKey: 'k' }), { code: 'BAD_USER_INPUT', field: 'amount' }],
    [() => parseRequestPayout('org', { amount: '1.001', idempotencyKey: '' }), { code: 'BAD_USER_INPUT', field: 'amount' }],
    [() => parseRequestPayout('org', { amount: '1', idempotencyKey: 'x'.repeat(201) }), { code: 'BAD_USER_INPUT', field: 'idempotencyKey' }],
    // The reference or reason is checked before the id.
    [() => parseMarkPayoutPaid('nope', ''), { code: 'BAD_USER_INPUT', field: 'reference' }],
    [() => parseMarkPayoutPaid('nope', 'wire'), { code: 'NOT_FOUND', message: 'payout nope not found' }],
    [() => parseRejectPayout(ID, 'x'.repeat(501)), { code: 'BAD_USER_INPUT', field: 'reason' }],
    [() => parseRejectPayout('nope', 'why'), { code: 'NOT_FOUND' }],
  ])('refuses case %#', (run, expected) => {
    expect(refusal(run)).toMatchObject(expected);
  });
});
