import { refusalOf } from '../../../../../test/support/refusal.js';
import { parseRequestFinancing } from './financing-request-commands.js';

const refusal = (input: Parameters<typeof parseRequestFinancing>[1]) => refusalOf(() => parseRequestFinancing('buyer', input));

describe('parseRequestFinancing', () => {
  it('gives a Decimal amount, the term and the trimmed purpose', () => {
    const cmd = parseRequestFinancing('buyer', { amount: '5000', termMonths: 12, purpose: ' GPUs ' });
    expect([cmd.borrowerId, cmd.amount.toFixed(2), cmd.termMonths, cmd.purpose]).toEqual(['buyer', '5000.00', 12, 'GPUs']);
  });

  it.each([
    // Checked in this order: amount, term, purpose.
    [{ amount: '0', termMonths: 0, purpose: '' }, 'amount'],
    [{ amount: '1.001', termMonths: 12, purpose: 'x' }, 'amount'],
    [{ amount: '1', termMonths: 0, purpose: '' }, 'termMonths'],
    [{ amount: '1', termMonths: 361, purpose: 'x' }, 'termMonths'],
    [{ amount: '1', termMonths: 12, purpose: ' ' }, 'purpose'],
    [{ amount: '1', termMonths: 12, purpose: 'x'.repeat(501) }, 'purpose'],
  ])('refuses %j on %s', (input, field) => {
    expect(refusal(input)).toMatchObject({ code: 'BAD_USER_INPUT', field });
  });
});
