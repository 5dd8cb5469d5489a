import { refusalOf } from '../../../../../test/support/refusal.js';
import { parseRecordDeposit } from './deposit-command.js';

const ORG = '7d3c6f1e-2b4a-4c1d-9e8f-0a1b2c3d4e5f';

const refusal = (input: Parameters<typeof parseRecordDeposit>[0]) => refusalOf(() => parseRecordDeposit(input));

describe('parseRecordDeposit', () => {
  it('gives a lower-case id, a Decimal amount and the trimmed reference', () => {
    const cmd = parseRecordDeposit({ organizationId: ORG.toUpperCase(), amount: '12.50', reference: '  wire 1 ' });
    expect([cmd.organizationId, cmd.amount.toFixed(2), cmd.reference]).toEqual([ORG, '12.50', 'wire 1']);
  });

  it.each([
    // Checked in this order: the organization, the amount, the reference.
    [{ organizationId: 'nope', amount: 'x', reference: '' }, { code: 'NOT_FOUND', message: 'organization nope not found' }],
    [{ organizationId: ORG, amount: '1.001', reference: '' }, { code: 'BAD_USER_INPUT', field: 'amount' }],
    [{ organizationId: ORG, amount: '0', reference: 'r' }, { code: 'BAD_USER_INPUT', field: 'amount' }],
    [{ organizationId: ORG, amount: '1', reference: '   ' }, { code: 'BAD_USER_INPUT', field: 'reference' }],
    [{ organizationId: ORG, amount: '1', reference: 'x'.repeat(201) }, { code: 'BAD_USER_INPUT', field: 'reference' }],
  ])('refuses %j', (input, expected) => {
    expect(refusal(input)).toMatchObject(expected);
  });
});
