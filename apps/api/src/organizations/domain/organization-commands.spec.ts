import { parseCreateApiKey, parseRegisterOrganization } from './organization-commands.js';
import { refusalOf as refusal } from '../../../../../test/support/refusal.js';

describe('parseRegisterOrganization', () => {
  it.each(['BUYER', 'SELLER', 'LENDER'])('accepts a %s', (role) => {
    expect(parseRegisterOrganization({ name: ' Acme ', role })).toEqual({ name: 'Acme', role });
  });

  it.each([
    [{ name: '', role: 'BUYER' }, { code: 'BAD_USER_INPUT', field: 'name' }],
    [{ name: 'Acme', role: 'buyer' }, { code: 'BAD_USER_INPUT', field: 'role', message: 'role is not valid' }],
    [{ name: 'Acme', role: 'OPERATOR' }, { code: 'FORBIDDEN', message: 'the operator organization cannot be registered' }],
    // The name is checked first.
    [{ name: '', role: 'OPERATOR' }, { code: 'BAD_USER_INPUT', field: 'name' }],
  ])('refuses %j', (input, expected) => {
    expect(refusal(() => parseRegisterOrganization(input))).toMatchObject(expected);
  });
});

describe('parseCreateApiKey', () => {
  it('gives the name and the limit as a Decimal, or null without one', () => {
    expect(parseCreateApiKey({ name: 'ci' }, 'BUYER')).toEqual({ name: 'ci', monthlyCreditLimit: null });
    expect(parseCreateApiKey({ name: 'ci', monthlyCreditLimit: null }, 'BUYER').monthlyCreditLimit).toBeNull();
    expect(parseCreateApiKey({ name: 'ci', monthlyCreditLimit: '10.5' }, 'BUYER').monthlyCreditLimit?.toFixed()).toBe('10.5');
    // Only the operator's "operator" key name is reserved.
    expect(parseCreateApiKey({ name: 'operator' }, 'SELLER').name).toBe('operator');
  });

  it.each([
    [{ name: '' }, 'BUYER', 'name'],
    [{ name: 'x'.repeat(101) }, 'BUYER', 'name'],
    [{ name: 'operator' }, 'OPERATOR', 'name'],
    [{ name: 'ci', monthlyCreditLimit: '0' }, 'BUYER', 'monthlyCreditLimit'],
    [{ name: 'ci', monthlyCreditLimit: '1.0000001' }, 'BUYER', 'monthlyCreditLimit'],
  ] as const)('refuses %j from a %s on %s', (input, role, field) => {
    expect(refusal(() => parseCreateApiKey(input, role))).toMatchObject({ code: 'BAD_USER_INPUT', field });
  });
});
