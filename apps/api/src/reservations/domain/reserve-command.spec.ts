import { parseReserveCommand } from './reserve-command.js';

const buyer = '00000000-0000-4000-8000-000000000001';

describe('parseReserveCommand', () => {
  it.each<[string, Record<string, unknown>, [string, number, string]]>([
    ['a month', { creditsPerMonth: '100', termMonths: 1, idempotencyKey: 'k' }, ['100', 1, 'k']],
    ['the longest term', { creditsPerMonth: '0.5', termMonths: 36, idempotencyKey: ' k ' }, ['0.5', 36, 'k']],
  ])('%s', (_name, input, [credits, term, key]) => {
    const cmd = parseReserveCommand(buyer, input as never, 36);
    expect([cmd.creditsPerMonth.toFixed(), cmd.termMonths, cmd.idempotencyKey]).toEqual([credits, term, key]);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['creditsPerMonth negative', { creditsPerMonth: '-1', termMonths: 3, idempotencyKey: 'k' }, 'creditsPerMonth'],
    ['termMonths 0', { creditsPerMonth: '1', termMonths: 0, idempotencyKey: 'k' }, 'termMonths'],
    ['termMonths past the rule', { creditsPerMonth: '1', termMonths: 37, idempotencyKey: 'k' }, 'termMonths'],
    ['termMonths not whole', { creditsPerMonth: '1', termMonths: 1.5, idempotencyKey: 'k' }, 'termMonths'],
    ['a key too long', { creditsPerMonth: '1', termMonths: 1, idempotencyKey: 'k'.repeat(201) }, 'idempotencyKey'],
    ['creditsPerMonth before termMonths', { creditsPerMonth: 'x', termMonths: 0, idempotencyKey: 'k' }, 'creditsPerMonth'],
  ])('%s: BAD_USER_INPUT on %s', (_name, input, field) => {
    expect(() => parseReserveCommand(buyer, input as never, 36)).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT', details: expect.objectContaining({ field }) }));
  });
});
