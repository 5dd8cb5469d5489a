import { parsePurchaseCommand } from './purchase-command.js';

const buyer = '00000000-0000-4000-8000-000000000001';

describe('parsePurchaseCommand', () => {
  it.each<[string, Record<string, unknown>, { credits: string; maxUnitPrice: string | null; idempotencyKey: string }]>([
    ['credits and key', { credits: '100', idempotencyKey: 'k' }, { credits: '100', maxUnitPrice: null, idempotencyKey: 'k' }],
    ['a null maxUnitPrice is none', { credits: '1.5', maxUnitPrice: null, idempotencyKey: 'k' }, { credits: '1.5', maxUnitPrice: null, idempotencyKey: 'k' }],
    ['micro-credits and a 6-decimal price', { credits: '0.000001', maxUnitPrice: '1.799999', idempotencyKey: 'k' }, { credits: '0.000001', maxUnitPrice: '1.799999', idempotencyKey: 'k' }],
  ])('%s', (_name, input, expected) => {
    const cmd = parsePurchaseCommand(buyer, input as never);
    expect({ credits: cmd.credits.toFixed(), maxUnitPrice: cmd.maxUnitPrice?.toFixed() ?? null, idempotencyKey: cmd.idempotencyKey }).toEqual(expected);
    expect(cmd.buyerId).toBe(buyer);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['credits not a number', { credits: 'ten', idempotencyKey: 'k' }, 'credits'],
    ['credits with 7 decimals', { credits: '0.0000001', idempotencyKey: 'k' }, 'credits'],
    ['credits zero', { credits: '0', idempotencyKey: 'k' }, 'credits'],
    ['maxUnitPrice with 7 decimals', { credits: '1', maxUnitPrice: '1.0000001', idempotencyKey: 'k' }, 'maxUnitPrice'],
    ['an empty key', { credits: '1', idempotencyKey: '' }, 'idempotencyKey'],
    ['credits before the key', { credits: 'x', idempotencyKey: '' }, 'credits'],
  ])('%s: BAD_USER_INPUT on %s', (_name, input, field) => {
    expect(() => parsePurchaseCommand(buyer, input as never)).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT', details: expect.objectContaining({ field }) }));
  });
});
