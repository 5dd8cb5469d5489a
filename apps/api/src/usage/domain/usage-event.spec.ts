import { DomainError } from '@ccx/core';
import { parseUsageEvent, parseUsageEventCommand } from './usage-event.js';
import { parseAuthorizeUsage, parseCaptureUsage } from './usage-hold.js';

const ORG = '0b7c3a52-6f0e-4d7e-9a57-2f3a1c9d4e10';
const tokens = { organizationId: ORG, eventId: 'e1', model: 'llama', inputTokens: 10, outputTokens: 5 };
const gpu = { organizationId: ORG, eventId: 'e2', gpuType: 'H100', gpuSeconds: '1.5' };

/** The code and field an input is refused with (null: accepted). */
function refusal(parse: () => unknown): [string, unknown] | null {
  try {
    parse();
    return null;
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return [error.code, error.details.field];
  }
}

describe('parseUsageEvent (SPEC §8 metering input)', () => {
  it.each<[string, unknown, [string, unknown] | null]>([
    ['a token event', tokens, null],
    ['a GPU-time event', gpu, null],
    ['GPU seconds as a whole number', { ...gpu, gpuSeconds: 36 }, null],
    ['an upper-case organization id', { ...tokens, organizationId: ORG.toUpperCase() }, null],
    ['not an object', 'x', ['BAD_USER_INPUT', undefined]],
    ['an array', [tokens], ['BAD_USER_INPUT', undefined]],
    ['null', null, ['BAD_USER_INPUT', undefined]],
    ['no eventId', { ...tokens, eventId: undefined }, ['BAD_USER_INPUT', 'eventId']],
    ['an eventId of 129 characters', { ...tokens, eventId: 'x'.repeat(129) }, ['BAD_USER_INPUT', 'eventId']],
    ['an eventId with NUL', { ...tokens, eventId: 'a\u0000b' }, ['BAD_USER_INPUT', 'eventId']],
    ['an eventId with an unpaired surrogate', { ...tokens, eventId: 'a\uD800' }, ['BAD_USER_INPUT', 'eventId']],
    ['an organization id that is not a UUID', { ...tokens, organizationId: 'acme' }, ['NOT_FOUND', 'organizationId']],
    ['both model and gpuType', { ...tokens, gpuType: 'H100' }, ['BAD_USER_INPUT', undefined]],
    ['neither model nor gpuType', { organizationId: ORG, eventId: 'e' }, ['BAD_USER_INPUT', undefined]],
    ['no tokens at all', { ...tokens, inputTokens: 0, outputTokens: 0 }, ['BAD_USER_INPUT', 'inputTokens']],
    ['fractional tokens', { ...tokens, inputTokens: 1.5 }, ['BAD_USER_INPUT', 'inputTokens']],
    ['negative tokens', { ...tokens, outputTokens: -1 }, ['BAD_USER_INPUT', 'outputTokens']],
    ['tokens as text', { ...tokens, inputTokens: '10' }, ['BAD_USER_INPUT', 'inputTokens']],
    ['gpuSeconds with a model', { ...tokens, gpuSeconds: '1' }, ['BAD_USER_INPUT', 'gpuSeconds']],
    ['tokens with a gpuType', { ...gpu, inputTokens: 1 }, ['BAD_USER_INPUT', 'inputTokens']],
    ['gpuSeconds with 7 decimals', { ...gpu, gpuSeconds: '0.0000001' }, ['BAD_USER_INPUT', 'gpuSeconds']],
    ['an empty model', { ...tokens, model: '' }, ['BAD_USER_INPUT', 'model']],
    ['an impossible date', { ...tokens, occurredAt: '2026-02-30T00:00:00Z' }, ['BAD_USER_INPUT', 'occurredAt']],
    ['a date without a zone', { ...tokens, occurredAt: '2026-02-01T00:00:00' }, ['BAD_USER_INPUT', 'occurredAt']],
    ['a real instant', { ...tokens, occurredAt: '2026-02-01T00:00:00Z' }, null],
  ])('%s', (_name, raw, expected) => {
    expect(refusal(() => parseUsageEvent(raw))).toEqual(expected);
  });

  it('lower-cases the organization id and keeps the quantity', () => {
    expect(parseUsageEvent({ ...tokens, organizationId: ORG.toUpperCase() })).toEqual({
      organizationId: ORG,
      eventId: 'e1',
      quantity: { kind: 'tokens', model: 'llama', inputTokens: 10, outputTokens: 5 },
      occurredAt: null,
    });
  });
});

describe('parseUsageEventCommand (one batch element: its own outcome)', () => {
  it.each<[string, unknown, object]>([
    ['a good event', tokens, { ok: true }],
    ['a bad event keeps its eventId', { ...tokens, inputTokens: -1 }, { ok: false, eventId: 'e1', code: 'BAD_USER_INPUT' }],
    ['an eventId too long is answered truncated to 128', { ...tokens, eventId: 'y'.repeat(200) }, { ok: false, eventId: 'y'.repeat(128) }],
    ['no eventId is answered as ""', { ...tokens, eventId: 7 }, { ok: false, eventId: '' }],
    ['not an object', 42, { ok: false, eventId: '', code: 'BAD_USER_INPUT', message: 'each event must be an object' }],
    ['null', null, { ok: false, eventId: '' }],
  ])('%s', (_name, raw, expected) => {
    expect(parseUsageEventCommand(raw)).toMatchObject(expected);
  });
});

describe('parseAuthorizeUsage / parseCaptureUsage', () => {
  it.each<[string, Record<string, unknown>, [string, unknown] | null]>([
    ['a hold', { organizationId: ORG, eventId: 'h1', credits: '1.5' }, null],
    ['credits are judged first', { organizationId: 'x', eventId: '', credits: '-1' }, ['BAD_USER_INPUT', 'credits']],
    ['then the organization', { organizationId: 'x', eventId: '', credits: '1' }, ['NOT_FOUND', undefined]],
    ['then the eventId', { organizationId: ORG, eventId: '', credits: '1' }, ['BAD_USER_INPUT', undefined]],
  ])('authorize: %s', (_name, input, expected) => {
    expect(refusal(() => parseAuthorizeUsage(input as never))).toEqual(expected);
  });

  it('a malformed hold id is NOT_FOUND at once', () => {
    expect(refusal(() => parseCaptureUsage({ holdId: 'nope', model: 'm', inputTokens: 1 }))).toEqual(['NOT_FOUND', undefined]);
  });

  it.each<[string, Record<string, unknown>, boolean]>([
    ['tokens', { model: 'm', inputTokens: 1 }, true],
    ['GPU time', { gpuType: 'H100', gpuSeconds: '2' }, true],
    ['nothing used', { model: 'm' }, false],
    ['both kinds', { model: 'm', gpuType: 'H100', inputTokens: 1 }, false],
  ])('capture of %s: a bad quantity travels as a result, raised after the hold is judged', (_name, usage, ok) => {
    const command = parseCaptureUsage({ holdId: ORG, ...usage });
    expect(command.holdId).toBe(ORG);
    expect(command.usage.ok).toBe(ok);
    if (!command.usage.ok) expect(command.usage.error).toBeInstanceOf(DomainError);
  });
});
