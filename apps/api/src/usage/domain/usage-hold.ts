import { DomainError, ErrorCode, type Decimal } from '@ccx/core';
import { creditsInput } from '../../common/amounts.js';
import { parseId } from '../../common/ids.js';
import type { Quantity } from './usage-rules.js';
import { parseUsageQuantity, type RawUsageEvent } from './usage-event.js';

/**
 * A usage hold's lifecycle (SPEC §8): OPEN until captured, voided or past its deadline. Defined
 * once: the service, the table's rows and the GraphQL enum all use it.
 */
export const UsageHoldStatus = {
  OPEN: 'OPEN',
  CAPTURED: 'CAPTURED',
  VOIDED: 'VOIDED',
  EXPIRED: 'EXPIRED',
} as const;
export type UsageHoldStatus = (typeof UsageHoldStatus)[keyof typeof UsageHoldStatus];

/** A hold to place before a call (GraphQL `authorizeUsage`), as the edge parsed it. */
export interface AuthorizeUsageCommand {
  organizationId: string;
  eventId: string;
  credits: Decimal;
}

/** Checked in this order, so that a request with several bad fields names the same one as before. */
export function parseAuthorizeUsage(input: { organizationId: unknown; eventId: unknown; credits: unknown }): AuthorizeUsageCommand {
  const credits = creditsInput(input.credits, 'credits');
  const organizationId = parseId(input.organizationId, 'organization');
  if (typeof input.eventId !== 'string' || !input.eventId || input.eventId.length > 128) {
    throw new DomainError(ErrorCode.BAD_USER_INPUT, 'eventId must be 1 to 128 characters');
  }
  return { organizationId, eventId: input.eventId, credits };
}

/**
 * A capture (GraphQL `captureUsage`). What the call used is parsed here, but a bad quantity is
 * only raised after the hold is found and judged (a replay of a captured hold is answered as a
 * duplicate whatever it sends), so it travels as a result.
 */
export interface CaptureUsageCommand {
  holdId: string;
  usage: { ok: true; quantity: Quantity; occurredAt: Date | null } | { ok: false; error: DomainError };
}

export function parseCaptureUsage(input: { holdId: unknown } & RawUsageEvent): CaptureUsageCommand {
  const holdId = parseId(input.holdId, 'hold');
  try {
    return { holdId, usage: { ok: true, ...parseUsageQuantity(input) } };
  } catch (error) {
    if (error instanceof DomainError) return { holdId, usage: { ok: false, error } };
    throw error;
  }
}
