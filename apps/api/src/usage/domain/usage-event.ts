import { BadInputError, Decimal, DomainError, NotFoundError, parseAmount, AmountParseError } from '@ccx/core';
import type { Quantity } from './usage-rules.js';
import { hasUnstorableCharacters } from '../../common/amounts.js';
import { isRealInstant } from '../../common/instants.js';

/** An event as a gateway sends it (GraphQL input or one element of POST /v1/usage). */
export interface RawUsageEvent {
  organizationId?: unknown;
  eventId?: unknown;
  model?: unknown;
  inputTokens?: unknown;
  outputTokens?: unknown;
  gpuType?: unknown;
  gpuSeconds?: unknown;
  occurredAt?: unknown;
}

export interface ParsedUsageEvent {
  organizationId: string;
  eventId: string;
  quantity: Quantity;
  occurredAt: Date | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_TOKENS = 1_000_000_000_000;

function tokens(value: unknown, field: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_TOKENS) {
    throw new BadInputError(`${field} must be a whole number from 0 to ${MAX_TOKENS}`, { field });
  }
  return value;
}

/**
 * Validates one event's shape (not its organization, model or balance). Errors are DomainErrors
 * with the code the event is rejected with; the input is never trusted further than this.
 */
export function parseUsageEvent(raw: unknown): ParsedUsageEvent {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new BadInputError('each event must be an object');
  const e = raw as RawUsageEvent;
  // An id PostgreSQL cannot store as sent (NUL, an unpaired surrogate) would be stored as another
  // id, and duplicates would no longer be found: refused, per event.
  if (typeof e.eventId !== 'string' || e.eventId.length === 0 || e.eventId.length > 128 || hasUnstorableCharacters(e.eventId)) {
    throw new BadInputError('eventId must be 1 to 128 well-formed characters', { field: 'eventId' });
  }
  if (typeof e.organizationId !== 'string' || !UUID.test(e.organizationId)) {
    throw new NotFoundError(`organization ${String(e.organizationId).slice(0, 60)} not found`, { field: 'organizationId' });
  }
  const { quantity, occurredAt } = parseUsageQuantity(e);
  return { organizationId: e.organizationId.toLowerCase(), eventId: e.eventId, quantity, occurredAt };
}

/** What an event used and when (its quantity fields and occurredAt), without its ids. */
export function parseUsageQuantity(e: RawUsageEvent): { quantity: Quantity; occurredAt: Date | null } {
  const hasModel = e.model !== undefined && e.model !== null;
  const hasGpu = e.gpuType !== undefined && e.gpuType !== null;
  if (hasModel === hasGpu) throw new BadInputError('an event names either a model (with tokens) or a gpuType (with gpuSeconds)');
  let quantity: Quantity;
  if (hasModel) {
    if (typeof e.model !== 'string' || e.model.length === 0 || e.model.length > 100 || hasUnstorableCharacters(e.model)) throw new BadInputError('model must be a model id', { field: 'model' });
    if (e.gpuSeconds !== undefined && e.gpuSeconds !== null) throw new BadInputError('gpuSeconds goes with gpuType, not model', { field: 'gpuSeconds' });
    const inputTokens = tokens(e.inputTokens, 'inputTokens');
    const outputTokens = tokens(e.outputTokens, 'outputTokens');
    if (inputTokens + outputTokens === 0) throw new BadInputError('an event with no tokens has nothing to charge', { field: 'inputTokens' });
    quantity = { kind: 'tokens', model: e.model, inputTokens, outputTokens };
  } else {
    if (typeof e.gpuType !== 'string' || e.gpuType.length === 0 || e.gpuType.length > 32 || hasUnstorableCharacters(e.gpuType)) throw new BadInputError('gpuType must be a GPU type', { field: 'gpuType' });
    if ((e.inputTokens ?? null) !== null || (e.outputTokens ?? null) !== null) throw new BadInputError('tokens go with model, not gpuType', { field: 'inputTokens' });
    const seconds = typeof e.gpuSeconds === 'number' && Number.isSafeInteger(e.gpuSeconds) ? String(e.gpuSeconds) : e.gpuSeconds;
    let gpuSeconds: Decimal;
    try {
      gpuSeconds = parseAmount(seconds, { scale: 6, field: 'gpuSeconds' });
    } catch (error) {
      if (error instanceof AmountParseError) throw new BadInputError(error.message, { field: 'gpuSeconds', problem: error.problem });
      throw error;
    }
    quantity = { kind: 'gpu', gpuType: e.gpuType, gpuSeconds };
  }
  let occurredAt: Date | null = null;
  if (e.occurredAt !== undefined && e.occurredAt !== null) {
    // The same rule as the DateTime scalar: a real calendar instant with a zone, years 1–9999.
    const d = e.occurredAt instanceof Date ? e.occurredAt : typeof e.occurredAt === 'string' && isRealInstant(e.occurredAt) ? new Date(e.occurredAt) : new Date(NaN);
    if (Number.isNaN(d.getTime())) {
      throw new BadInputError('occurredAt must be an ISO-8601 instant', { field: 'occurredAt' });
    }
    occurredAt = d;
  }
  return { quantity, occurredAt };
}

export function rejection(error: unknown): { code: string; message: string } | null {
  return error instanceof DomainError ? { code: error.code, message: error.message } : null;
}

/**
 * One event of a batch as the edge parsed it: the event, or its own rejection (a bad event fails
 * only itself, SPEC §8), answered under the eventId it was sent with (truncated, '' when none).
 */
export type UsageEventCommand =
  | { ok: true; event: ParsedUsageEvent }
  | { ok: false; eventId: string; code: string; message: string };

/** Parses one raw event into a command; anything but a DomainError is a bug and is thrown. */
export function parseUsageEventCommand(raw: unknown): UsageEventCommand {
  try {
    return { ok: true, event: parseUsageEvent(raw) };
  } catch (error) {
    const rejected = rejection(error);
    if (!rejected) throw error;
    return { ok: false, eventId: eventIdOf(raw), ...rejected };
  }
}

function eventIdOf(raw: unknown): string {
  const id = (raw as { eventId?: unknown } | null)?.eventId;
  return typeof id === 'string' ? id.slice(0, 128) : '';
}
