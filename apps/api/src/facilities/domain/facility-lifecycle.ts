import type { Decimal } from '@ccx/core';
import { instantAtDpd, statusForDpd } from './facility-rules.js';
import type { FacilityStatus } from './facility-status.js';

/**
 * A facility's lifecycle (SPEC §7) as one pure state machine: every status change of a facility
 * is decided here, and the services apply the patch and run the effects in one transaction.
 *
 *   OFFERED ─accept→ ACTIVE ⇄ DELINQUENT → DEFAULTED (sticky, block frozen) ─recover→ CHARGED_OFF | REPAID
 *   OFFERED ─decline→ DECLINED;  ACTIVE | DELINQUENT | DEFAULTED ─paid in full→ REPAID
 */

/** The financed block, as far as the lifecycle cares; absent until the service has locked it. */
export interface BlockState {
  status: string;
  expiresAt: Date | null;
}

export interface LifecycleState {
  status: FacilityStatus;
  /** DEFAULTED stays DEFAULTED, whatever the DPD, until the lender unfreezes. */
  defaultSticky: boolean;
  accepted: boolean;
  graceDays: number;
  defaultAfterDaysPastDue: number;
  block?: BlockState;
}

export type LifecycleEvent =
  | { type: 'DECLINE' }
  | { type: 'ACCEPT' }
  /** A repayment is asked for: refused unless the facility takes repayments. */
  | { type: 'REPAY' }
  /** A repayment was applied: paid in full, or what is still past due decides the status. */
  | { type: 'PAYMENT_APPLIED'; at: Date; paidOff: boolean; dpd: number }
  | { type: 'SERVICE'; dpd: number; /** The due date of the oldest unpaid installment due, if any. */ oldestUnpaidDue: Date | null }
  | { type: 'LENDER_FREEZE'; at: Date; actorId: string; reason: string }
  | { type: 'LENDER_UNFREEZE'; at: Date; actorId: string; reason: string; dpd: number }
  /** A recovery is asked for: refused unless DEFAULTED, before anything is locked or priced. */
  | { type: 'RECOVER_REQUESTED' }
  | { type: 'RECOVER'; at: Date; proceeds: Decimal; chargedOff: Decimal };

export type LifecycleEffect =
  | { type: 'FREEZE_BLOCK'; at: Date; actorId: string | null; reason: string }
  | { type: 'UNFREEZE_BLOCK'; at: Date; actorId: string | null; reason: string }
  /** Repaid credits stop expiring. */
  | { type: 'RELEASE_EXPIRY' }
  /** Buy the frozen credits back and apply the proceeds (facilities/domain/recovery.ts). */
  | { type: 'RECOVER'; at: Date };

export interface FacilityPatch {
  status?: FacilityStatus;
  defaultSticky?: boolean;
  defaultedAt?: Date;
  recoveredAmount?: Decimal;
  chargedOffAmount?: Decimal;
}

export type LifecycleStep =
  | { kind: 'moved'; patch: FacilityPatch; effects: LifecycleEffect[] }
  /** Nothing to do: a retry of what was done, or nothing changed. */
  | { kind: 'unchanged' }
  /** Refused with this message (an INVALID_STATE error). */
  | { kind: 'refused'; reason: string }
  /** The decision depends on the financed block: lock it and ask again with `state.block`. */
  | { kind: 'needsBlock' };

/** Every facility starts as an offer. */
export const INITIAL_STATUS: FacilityStatus = 'OFFERED';
export const LIVE_STATUSES: readonly FacilityStatus[] = ['ACTIVE', 'DELINQUENT', 'DEFAULTED'];
export const isLive = (status: FacilityStatus): boolean => LIVE_STATUSES.includes(status);

const moved = (patch: FacilityPatch, effects: LifecycleEffect[] = []): LifecycleStep => ({ kind: 'moved', patch, effects });
const refused = (reason: string): LifecycleStep => ({ kind: 'refused', reason });
const refusedRecovery = (status: FacilityStatus) => refused(`only a DEFAULTED facility can be recovered; this one is ${status}`);
const UNCHANGED: LifecycleStep = { kind: 'unchanged' };
const NEEDS_BLOCK: LifecycleStep = { kind: 'needsBlock' };

export function transition(state: LifecycleState, event: LifecycleEvent): LifecycleStep {
  const { status, block } = state;
  switch (event.type) {
    case 'DECLINE':
      if (status === 'DECLINED') return UNCHANGED;
      if (status !== 'OFFERED') return refused(`a ${status} facility cannot be declined`);
      return moved({ status: 'DECLINED' });

    case 'ACCEPT':
      // Accepting again answers the accepted facility (a safe retry).
      if (state.accepted) return UNCHANGED;
      if (status !== 'OFFERED') return refused(`a ${status} facility cannot be accepted`);
      return moved({ status: 'ACTIVE' });

    case 'REPAY':
      return isLive(status) ? moved({}) : refused(`a ${status} facility takes no repayments`);

    case 'PAYMENT_APPLIED': {
      if (!isLive(status)) return refused(`a ${status} facility takes no repayments`);
      if (event.paidOff) {
        if (!block) return NEEDS_BLOCK;
        const effects: LifecycleEffect[] = [];
        let blockStatus = block.status;
        if (blockStatus === 'FROZEN') {
          effects.push({ type: 'UNFREEZE_BLOCK', at: event.at, actorId: null, reason: 'repaid in full' });
          blockStatus = 'ACTIVE';
        }
        // Unless they already expired (past maturity): repaying late does not bring expired
        // credits back; the next servicing run sweeps them.
        const lapsed = block.expiresAt !== null && block.expiresAt.getTime() <= event.at.getTime();
        if ((blockStatus === 'ACTIVE' || blockStatus === 'EXHAUSTED') && !lapsed) effects.push({ type: 'RELEASE_EXPIRY' });
        return moved({ status: 'REPAID', defaultSticky: false }, effects);
      }
      // Paying the arrears cures a DELINQUENT facility; DEFAULTED stays until the lender unfreezes.
      if (status === 'DELINQUENT' || (status === 'DEFAULTED' && !state.defaultSticky)) {
        const target = statusForDpd(event.dpd, state.graceDays, state.defaultAfterDaysPastDue);
        if (target !== 'DEFAULTED' && target !== status) return moved({ status: target });
      }
      return UNCHANGED;
    }

    case 'SERVICE': {
      if (!isLive(status) || (status === 'DEFAULTED' && state.defaultSticky)) return UNCHANGED;
      const target = statusForDpd(event.dpd, state.graceDays, state.defaultAfterDaysPastDue);
      if (target === status) return UNCHANGED;
      if (target !== 'DEFAULTED') return moved({ status: target });
      const at = instantAtDpd(event.oldestUnpaidDue!, state.defaultAfterDaysPastDue);
      if (!block) return NEEDS_BLOCK;
      // Judged as if servicing had run at every instant: a block whose expiry (maturity) came
      // before the default instant had already expired then — expiry runs after this step and
      // takes it — so only a block still live at the default instant is frozen.
      const liveAtDefault = !block.expiresAt || at.getTime() <= block.expiresAt.getTime();
      const freeze: LifecycleEffect[] =
        block.status === 'ACTIVE' && liveAtDefault
          ? [{ type: 'FREEZE_BLOCK', at, actorId: null, reason: `defaulted: ${state.defaultAfterDaysPastDue} days past due` }]
          : [];
      return moved({ status: 'DEFAULTED', defaultSticky: true, defaultedAt: at }, freeze);
    }

    case 'LENDER_FREEZE':
      if (status !== 'DELINQUENT' && status !== 'DEFAULTED') {
        return refused(`credits can be frozen by hand only while DELINQUENT or DEFAULTED; this facility is ${status}`);
      }
      if (!block) return NEEDS_BLOCK;
      if (block.status !== 'ACTIVE') return refused(`the facility's credits are ${block.status}, not ACTIVE`);
      return moved({}, [{ type: 'FREEZE_BLOCK', at: event.at, actorId: event.actorId, reason: event.reason }]);

    case 'LENDER_UNFREEZE': {
      if (!block) return NEEDS_BLOCK;
      if (block.status !== 'FROZEN') return refused(`the facility's credits are ${block.status}, not FROZEN`);
      const unfreeze: LifecycleEffect[] = [{ type: 'UNFREEZE_BLOCK', at: event.at, actorId: event.actorId, reason: event.reason }];
      // The lender's unfreeze ends the stickiness: from now on the status follows DPD again.
      if (status !== 'DEFAULTED') return moved({}, unfreeze);
      return moved({ defaultSticky: false, status: statusForDpd(event.dpd, state.graceDays, state.defaultAfterDaysPastDue) }, unfreeze);
    }

    case 'RECOVER_REQUESTED':
      return status === 'DEFAULTED' ? moved({}) : refusedRecovery(status);

    case 'RECOVER':
      if (status !== 'DEFAULTED') return refusedRecovery(status);
      if (!block) return NEEDS_BLOCK;
      if (block.status === 'ACTIVE') return refused('freeze the credits before recovering them');
      return moved(
        {
          status: event.chargedOff.gt(0) ? 'CHARGED_OFF' : 'REPAID',
          recoveredAmount: event.proceeds,
          chargedOffAmount: event.chargedOff,
          defaultSticky: false,
        },
        [{ type: 'RECOVER', at: event.at }],
      );
  }
}
