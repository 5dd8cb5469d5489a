import { transition, type PayoutEvent, type PayoutFacts } from './payout-rules.js';

const pending: PayoutFacts = { status: 'PENDING', reference: null, reason: null };
const paid: PayoutFacts = { status: 'PAID', reference: 'wire-1', reason: null };
const rejected: PayoutFacts = { status: 'REJECTED', reference: null, reason: 'wrong bank' };
const PAY: PayoutEvent = { type: 'MARK_PAID', reference: 'wire-1' };
const REJECT: PayoutEvent = { type: 'REJECT', reason: 'wrong bank' };

const cases: [string, PayoutFacts, PayoutEvent, unknown][] = [
  ['pending → paid', pending, PAY, { ok: true, patch: { status: 'PAID', reference: 'wire-1' }, effect: 'SETTLE' }],
  ['pending → rejected', pending, REJECT, { ok: true, patch: { status: 'REJECTED', reason: 'wrong bank' }, effect: 'RETURN_FUNDS' }],
  ['paid, same reference: a retry', paid, PAY, { ok: true, patch: null, effect: null }],
  ['paid, another reference', paid, { type: 'MARK_PAID', reference: 'wire-2' }, 'refused'],
  ['paid, then rejected', paid, REJECT, 'refused'],
  ['rejected, same reason: a retry', rejected, REJECT, { ok: true, patch: null, effect: null }],
  ['rejected, another reason', rejected, { type: 'REJECT', reason: 'other' }, 'refused'],
  ['rejected, then paid', rejected, PAY, 'refused'],
];

it.each(cases)('%s', (_label, payout, event, expected) => {
  const result = transition(payout, event);
  if (expected === 'refused') expect(result.ok).toBe(false);
  else expect(result).toEqual(expected);
});
