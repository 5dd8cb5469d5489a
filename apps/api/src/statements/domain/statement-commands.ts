import { BadInputError } from '@ccx/core';

export const ENTRIES_DEFAULT_PAGE = 50;
export const ENTRIES_MAX_PAGE = 200;
const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;
/** A ledger entry id: the cursor of walletEntries. */
const CURSOR = /^[1-9][0-9]{0,17}$/;

/** A calendar month (UTC): `[from, to)`. */
export interface StatementMonth {
  /** YYYY-MM, as asked. */
  month: string;
  from: Date;
  to: Date;
}

export interface EntriesPage {
  first: number;
  /** The id of the last entry already seen; null: from the newest. */
  after: string | null;
}

export function parseStatementMonth(value: unknown): StatementMonth {
  const match = typeof value === 'string' ? MONTH.exec(value) : null;
  if (!match) throw new BadInputError('month must be YYYY-MM, e.g. "2026-01"', { field: 'month' });
  const year = Number(match[1]);
  const index = Number(match[2]) - 1;
  return { month: value as string, from: new Date(Date.UTC(year, index, 1)), to: new Date(Date.UTC(year, index + 1, 1)) };
}

export function parseEntriesPage(page: { first?: unknown; after?: unknown }): EntriesPage {
  const first = page.first ?? ENTRIES_DEFAULT_PAGE;
  if (typeof first !== 'number' || !Number.isInteger(first) || first < 1 || first > ENTRIES_MAX_PAGE) {
    throw new BadInputError(`first must be from 1 to ${ENTRIES_MAX_PAGE}`, { field: 'first' });
  }
  const after = page.after ?? null;
  if (after !== null && (typeof after !== 'string' || !CURSOR.test(after))) throw new BadInputError('after is not a cursor of this list', { field: 'after' });
  return { first, after };
}
