import { DomainError } from '@ccx/core';
import { MAX_REPORT_DAYS, parseUsageReportQuery } from './usage-report.js';

const T = (iso: string) => new Date(iso);
const DAY = 86_400_000;
const from = T('2026-01-01T00:00:00Z');

describe('parseUsageReportQuery (SPEC §8 reports)', () => {
  it.each<[string, unknown, unknown, unknown, [string, unknown, string] | null]>([
    ['a day report', from, T('2026-02-01T00:00:00Z'), 'DAY', null],
    ['a model report', from, T('2026-01-01T00:00:01Z'), 'MODEL', null],
    ['the longest period', from, new Date(from.getTime() + MAX_REPORT_DAYS * DAY), 'DAY', null],
    ['one millisecond too long', from, new Date(from.getTime() + MAX_REPORT_DAYS * DAY + 1), 'DAY', ['BAD_USER_INPUT', 'to', `a report covers at most ${MAX_REPORT_DAYS} days`]],
    ['to equal to from', from, from, 'DAY', ['BAD_USER_INPUT', 'to', 'to must be after from']],
    ['to before from', from, T('2025-12-31T00:00:00Z'), 'DAY', ['BAD_USER_INPUT', 'to', 'to must be after from']],
    ['an invalid date', new Date(NaN), from, 'DAY', ['BAD_USER_INPUT', undefined, 'from and to must be instants']],
    ['text instead of a date', '2026-01-01T00:00:00Z', from, 'DAY', ['BAD_USER_INPUT', undefined, 'from and to must be instants']],
    ['an unknown grouping', from, T('2026-02-01T00:00:00Z'), 'WEEK', ['BAD_USER_INPUT', 'groupBy', 'groupBy must be DAY or MODEL']],
    ['the period is judged before the grouping', from, from, 'WEEK', ['BAD_USER_INPUT', 'to', 'to must be after from']],
  ])('%s', (_name, f, t, groupBy, expected) => {
    let got: [string, unknown, string] | null = null;
    try {
      expect(parseUsageReportQuery({ organizationId: null, from: f, to: t, groupBy })).toEqual({ organizationId: null, from: f, to: t, groupBy });
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      got = [error.code, error.details.field, error.message];
    }
    expect(got).toEqual(expected);
  });
});
