import { transition, type FinancingRequestEvent, type FinancingRequestStatus } from './financing-request-rules.js';

const FUND: FinancingRequestEvent = { type: 'FUND', facilityId: 'f1' };
const cases: [FinancingRequestStatus, FinancingRequestEvent, 'refused' | null | { status: string; fundedByFacilityId?: string }][] = [
  ['OPEN', { type: 'OFFER' }, null],
  ['FUNDED', { type: 'OFFER' }, 'refused'],
  ['WITHDRAWN', { type: 'OFFER' }, 'refused'],
  ['OPEN', { type: 'WITHDRAW' }, { status: 'WITHDRAWN' }],
  ['WITHDRAWN', { type: 'WITHDRAW' }, null],
  ['FUNDED', { type: 'WITHDRAW' }, 'refused'],
  ['OPEN', FUND, { status: 'FUNDED', fundedByFacilityId: 'f1' }],
  ['FUNDED', FUND, 'refused'],
  ['WITHDRAWN', FUND, 'refused'],
];

it.each(cases)('%s + %j', (state, event, expected) => {
  const result = transition(state, event);
  if (expected === 'refused') expect(result.ok).toBe(false);
  else expect(result).toEqual({ ok: true, patch: expected });
});
