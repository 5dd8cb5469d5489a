import { Decimal } from '@ccx/core';

/** An instant in UTC, labelled: "2026-01-05 12:00 UTC". */
export function utc(iso: string | null | undefined): string {
  if (!iso) return '—';
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** The UTC calendar day of an instant: "2026-01-05". */
export function utcDay(iso: string | null | undefined): string {
  return iso ? iso.slice(0, 10) : '—';
}

/** Sums decimal strings exactly (never through floats), keeping the inputs' largest scale. */
export function sum(values: (string | null | undefined)[]): string {
  let scale = 0;
  let total = new Decimal(0);
  for (const v of values) {
    if (v === null || v === undefined || v === '') continue;
    scale = Math.max(scale, v.includes('.') ? v.length - v.indexOf('.') - 1 : 0);
    total = total.plus(v);
  }
  return total.toFixed(scale);
}

/** a − b, exactly, at the larger scale of the two. */
export function minus(a: string, b: string): string {
  const scale = Math.max(...[a, b].map((v) => (v.includes('.') ? v.length - v.indexOf('.') - 1 : 0)));
  return new Decimal(a).minus(b).toFixed(scale);
}

/** For plotting only: a chart needs coordinates; every figure shown as text stays a string. */
export function plotValue(value: string): number {
  return Number.parseFloat(value);
}

/** "2026-01" → the month after, "2026-02". */
export function addMonths(month: string, delta: number): string {
  const [y, m] = month.split('-').map((n) => Number.parseInt(n, 10));
  const total = y * 12 + (m - 1) + delta;
  return `${Math.floor(total / 12)}-${String((total % 12) + 1).padStart(2, '0')}`;
}

/** Adds whole days to a YYYY-MM-DD day (UTC). */
export function addDays(day: string, delta: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + delta);
  return d.toISOString().slice(0, 10);
}

/** CSV from rows of strings, quoted where needed. */
export function toCsv(header: string[], rows: string[][]): string {
  const cell = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return [header, ...rows].map((r) => r.map(cell).join(',')).join('\n') + '\n';
}

export function download(filename: string, text: string, type = 'text/csv'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
