import { parseEntriesPage, parseStatementMonth } from './statement-commands.js';
import { refusalOf as refusal } from '../../../../../test/support/refusal.js';

describe('parseStatementMonth', () => {
  it.each([
    ['2026-01', '2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z'],
    ['2025-12', '2025-12-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z'],
  ])('%s is [%s, %s)', (month, from, to) => {
    const m = parseStatementMonth(month);
    expect([m.month, m.from.toISOString(), m.to.toISOString()]).toEqual([month, from, to]);
  });

  it.each(['2026-13', '2026-1', '26-01', '2026-01-01', '', undefined, 202601])('refuses %p', (month) => {
    expect(refusal(() => parseStatementMonth(month))).toEqual({ code: 'BAD_USER_INPUT', field: 'month', message: 'month must be YYYY-MM, e.g. "2026-01"' });
  });
});

describe('parseEntriesPage', () => {
  it.each([
    [{}, { first: 50, after: null }],
    [{ first: null, after: null }, { first: 50, after: null }],
    [{ first: 200, after: '17' }, { first: 200, after: '17' }],
  ])('%j gives %j', (page, expected) => expect(parseEntriesPage(page)).toEqual(expected));

  it.each([
    [{ first: 0 }, 'first'],
    [{ first: 201 }, 'first'],
    [{ first: 2.5 }, 'first'],
    [{ after: '0' }, 'after'],
    [{ after: 'abc' }, 'after'],
    [{ after: '1'.repeat(19) }, 'after'],
  ])('refuses %j on %s', (page, field) => {
    expect(refusal(() => parseEntriesPage(page))).toMatchObject({ code: 'BAD_USER_INPUT', field });
  });
});
