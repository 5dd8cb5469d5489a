import { Decimal } from '@ccx/core';
import { transition, type BlockState, type LifecycleEvent, type LifecycleState, type LifecycleStep } from './facility-lifecycle.js';
import type { FacilityStatus } from './facility-status.js';

const D = (v: string) => new Decimal(v);
const NOW = new Date('2026-03-01T00:00:00Z');
const DUE = new Date('2026-02-01T00:00:00Z');
const LATER = new Date('2026-06-01T00:00:00Z');
const EARLIER = new Date('2026-02-15T00:00:00Z');
/** grace 5 days, default at 30 days past due. */
const state = (status: FacilityStatus, more: Partial<LifecycleState> = {}): LifecycleState => ({
  status,
  defaultSticky: status === 'DEFAULTED',
  accepted: !['OFFERED', 'DECLINED'].includes(status),
  graceDays: 5,
  defaultAfterDaysPastDue: 30,
  ...more,
});
const block = (status: string, expiresAt: Date | null = LATER): BlockState => ({ status, expiresAt });
const lenderFreeze: LifecycleEvent = { type: 'LENDER_FREEZE', at: NOW, actorId: 'lender', reason: 'late' };
const lenderUnfreeze = (dpd: number): LifecycleEvent => ({ type: 'LENDER_UNFREEZE', at: NOW, actorId: 'lender', reason: 'ok', dpd });
const paid = (paidOff: boolean, dpd = 0): LifecycleEvent => ({ type: 'PAYMENT_APPLIED', at: NOW, paidOff, dpd });
const service = (dpd: number): LifecycleEvent => ({ type: 'SERVICE', dpd, oldestUnpaidDue: dpd > 0 ? DUE : null });
const recover = (chargedOff: string): LifecycleEvent => ({ type: 'RECOVER', at: NOW, proceeds: D('80'), chargedOff: D(chargedOff) });
const moved = (patch: object, effects: object[] = []): LifecycleStep => ({ kind: 'moved', patch, effects }) as LifecycleStep;
const refused = (reason: string): LifecycleStep => ({ kind: 'refused', reason });
const UNCHANGED: LifecycleStep = { kind: 'unchanged' };
const NEEDS_BLOCK: LifecycleStep = { kind: 'needsBlock' };
const DEFAULT_AT = new Date(DUE.getTime() + 30 * 86_400_000);

const cases: [string, LifecycleState, LifecycleEvent, LifecycleStep][] = [
  // Offer and acceptance.
  ['an offer is declined', state('OFFERED'), { type: 'DECLINE' }, moved({ status: 'DECLINED' })],
  ['declining again changes nothing', state('DECLINED'), { type: 'DECLINE' }, UNCHANGED],
  ['an accepted facility cannot be declined', state('ACTIVE'), { type: 'DECLINE' }, refused('a ACTIVE facility cannot be declined')],
  ['an offer is accepted', state('OFFERED'), { type: 'ACCEPT' }, moved({ status: 'ACTIVE' })],
  ['accepting again is a safe retry, whatever the status now', state('DEFAULTED'), { type: 'ACCEPT' }, UNCHANGED],
  ['a declined offer cannot be accepted', state('DECLINED'), { type: 'ACCEPT' }, refused('a DECLINED facility cannot be accepted')],

  // Repayments.
  ['a live facility takes repayments', state('DELINQUENT'), { type: 'REPAY' }, moved({})],
  ['an offer takes no repayments', state('OFFERED'), { type: 'REPAY' }, refused('a OFFERED facility takes no repayments')],
  ['a repaid facility takes no repayments', state('REPAID'), { type: 'REPAY' }, refused('a REPAID facility takes no repayments')],
  ['paid in full needs the block', state('ACTIVE'), paid(true), NEEDS_BLOCK],
  [
    'paid in full: REPAID and the credits stop expiring',
    state('ACTIVE', { block: block('ACTIVE') }),
    paid(true),
    moved({ status: 'REPAID', defaultSticky: false }, [{ type: 'RELEASE_EXPIRY' }]),
  ],
  [
    'paid in full while frozen: unfrozen, then the expiry released',
    state('DEFAULTED', { block: block('FROZEN') }),
    paid(true),
    moved({ status: 'REPAID', defaultSticky: false }, [
      { type: 'UNFREEZE_BLOCK', at: NOW, actorId: null, reason: 'repaid in full' },
      { type: 'RELEASE_EXPIRY' },
    ]),
  ],
  [
    'paid in full with every credit spent: the exhausted block stops expiring too',
    state('ACTIVE', { block: block('EXHAUSTED') }),
    paid(true),
    moved({ status: 'REPAID', defaultSticky: false }, [{ type: 'RELEASE_EXPIRY' }]),
  ],
  [
    'paid in full after maturity: expired credits stay expired',
    state('DELINQUENT', { block: block('ACTIVE', EARLIER) }),
    paid(true),
    moved({ status: 'REPAID', defaultSticky: false }),
  ],
  ['paid in full after the block was swept', state('DELINQUENT', { block: block('EXPIRED', EARLIER) }), paid(true), moved({ status: 'REPAID', defaultSticky: false })],
  ['paying the arrears cures a DELINQUENT facility', state('DELINQUENT'), paid(false, 0), moved({ status: 'ACTIVE' })],
  ['a part payment within grace keeps it ACTIVE', state('ACTIVE'), paid(false, 3), UNCHANGED],
  ['still past grace after paying: stays DELINQUENT', state('DELINQUENT'), paid(false, 10), UNCHANGED],
  ['DEFAULTED stays DEFAULTED (sticky) whatever is paid', state('DEFAULTED'), paid(false, 0), UNCHANGED],
  ['a non-sticky DEFAULTED facility is cured by paying', state('DEFAULTED', { defaultSticky: false }), paid(false, 10), moved({ status: 'DELINQUENT' })],
  ['a payment never moves a facility into DEFAULTED', state('DELINQUENT'), paid(false, 40), UNCHANGED],

  // Servicing by days past due.
  ['within grace: stays ACTIVE', state('ACTIVE'), service(5), UNCHANGED],
  ['past grace: DELINQUENT', state('ACTIVE'), service(6), moved({ status: 'DELINQUENT' })],
  ['caught up: back to ACTIVE', state('DELINQUENT'), service(0), moved({ status: 'ACTIVE' })],
  ['reaching the default threshold needs the block', state('DELINQUENT'), service(30), NEEDS_BLOCK],
  [
    'DEFAULTED at the instant the threshold was reached, sticky, the block frozen then',
    state('DELINQUENT', { block: block('ACTIVE') }),
    service(45),
    moved({ status: 'DEFAULTED', defaultSticky: true, defaultedAt: DEFAULT_AT }, [
      { type: 'FREEZE_BLOCK', at: DEFAULT_AT, actorId: null, reason: 'defaulted: 30 days past due' },
    ]),
  ],
  [
    'a block that expired before the default instant is not frozen',
    state('ACTIVE', { block: block('ACTIVE', EARLIER) }),
    service(45),
    moved({ status: 'DEFAULTED', defaultSticky: true, defaultedAt: DEFAULT_AT }),
  ],
  [
    'a block expiring exactly at the default instant is still frozen',
    state('ACTIVE', { block: block('ACTIVE', DEFAULT_AT) }),
    service(45),
    moved({ status: 'DEFAULTED', defaultSticky: true, defaultedAt: DEFAULT_AT }, [
      { type: 'FREEZE_BLOCK', at: DEFAULT_AT, actorId: null, reason: 'defaulted: 30 days past due' },
    ]),
  ],
  [
    'a block frozen by hand already is not frozen again',
    state('DELINQUENT', { block: block('FROZEN') }),
    service(30),
    moved({ status: 'DEFAULTED', defaultSticky: true, defaultedAt: DEFAULT_AT }),
  ],
  ['a sticky DEFAULTED facility is left alone', state('DEFAULTED'), service(0), UNCHANGED],
  ['an unfrozen DEFAULTED facility follows DPD again', state('DEFAULTED', { defaultSticky: false }), service(2), moved({ status: 'ACTIVE' })],
  ['a settled facility is not serviced', state('REPAID'), service(40), UNCHANGED],
  ['an offer is not serviced', state('OFFERED'), service(40), UNCHANGED],

  // The lender's freeze and unfreeze.
  ['the lender freezes a DELINQUENT facility', state('DELINQUENT', { block: block('ACTIVE') }), lenderFreeze, moved({}, [{ type: 'FREEZE_BLOCK', at: NOW, actorId: 'lender', reason: 'late' }])],
  ['the lender freeze needs the block', state('DEFAULTED'), lenderFreeze, NEEDS_BLOCK],
  [
    'an ACTIVE facility cannot be frozen by hand (before looking at the block)',
    state('ACTIVE'),
    lenderFreeze,
    refused('credits can be frozen by hand only while DELINQUENT or DEFAULTED; this facility is ACTIVE'),
  ],
  ['frozen credits cannot be frozen again', state('DEFAULTED', { block: block('FROZEN') }), lenderFreeze, refused("the facility's credits are FROZEN, not ACTIVE")],
  ['expired credits cannot be frozen', state('DELINQUENT', { block: block('EXPIRED') }), lenderFreeze, refused("the facility's credits are EXPIRED, not ACTIVE")],
  ['the unfreeze needs the block', state('DEFAULTED'), lenderUnfreeze(40), NEEDS_BLOCK],
  ['only frozen credits can be unfrozen', state('DEFAULTED', { block: block('ACTIVE') }), lenderUnfreeze(40), refused("the facility's credits are ACTIVE, not FROZEN")],
  [
    'unfreezing a DELINQUENT facility leaves its status',
    state('DELINQUENT', { block: block('FROZEN') }),
    lenderUnfreeze(10),
    moved({}, [{ type: 'UNFREEZE_BLOCK', at: NOW, actorId: 'lender', reason: 'ok' }]),
  ],
  [
    'unfreezing a DEFAULTED facility ends the stickiness: the status follows DPD',
    state('DEFAULTED', { block: block('FROZEN') }),
    lenderUnfreeze(10),
    moved({ defaultSticky: false, status: 'DELINQUENT' }, [{ type: 'UNFREEZE_BLOCK', at: NOW, actorId: 'lender', reason: 'ok' }]),
  ],
  [
    'still past the threshold: DEFAULTED, but no longer sticky',
    state('DEFAULTED', { block: block('FROZEN') }),
    lenderUnfreeze(40),
    moved({ defaultSticky: false, status: 'DEFAULTED' }, [{ type: 'UNFREEZE_BLOCK', at: NOW, actorId: 'lender', reason: 'ok' }]),
  ],

  // Recovery.
  ['a recovery of a DEFAULTED facility may proceed', state('DEFAULTED'), { type: 'RECOVER_REQUESTED' }, moved({})],
  ['a recovery is refused unless DEFAULTED', state('DELINQUENT'), { type: 'RECOVER_REQUESTED' }, refused('only a DEFAULTED facility can be recovered; this one is DELINQUENT')],
  ['only a DEFAULTED facility is recovered', state('DELINQUENT', { block: block('FROZEN') }), recover('0'), refused('only a DEFAULTED facility can be recovered; this one is DELINQUENT')],
  ['refused on status before the block is looked at', state('REPAID'), recover('0'), refused('only a DEFAULTED facility can be recovered; this one is REPAID')],
  ['recovery needs the block', state('DEFAULTED'), recover('0'), NEEDS_BLOCK],
  ['credits must be frozen first', state('DEFAULTED', { block: block('ACTIVE') }), recover('0'), refused('freeze the credits before recovering them')],
  [
    'proceeds short of the debt: CHARGED_OFF',
    state('DEFAULTED', { block: block('FROZEN') }),
    recover('20'),
    moved({ status: 'CHARGED_OFF', recoveredAmount: D('80'), chargedOffAmount: D('20'), defaultSticky: false }, [{ type: 'RECOVER', at: NOW }]),
  ],
  [
    'proceeds cover the debt: REPAID',
    state('DEFAULTED', { defaultSticky: false, block: block('EXPIRED') }),
    recover('0'),
    moved({ status: 'REPAID', recoveredAmount: D('80'), chargedOffAmount: D('0'), defaultSticky: false }, [{ type: 'RECOVER', at: NOW }]),
  ],
];

describe('facility lifecycle', () => {
  it.each(cases)('%s', (_name, from, event, expected) => {
    expect(transition(from, event)).toEqual(expected);
  });
});
