const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-](\d{2}):(\d{2}))$/;

/**
 * True when the text names a real instant: a calendar date that exists (no 2026-02-30, which
 * `new Date` would quietly turn into March 2), a clock time up to 23:59:59, an offset up to
 * ±23:59, and, in UTC, a year from 0001 to 9999 (PostgreSQL has no year 0).
 */
export function isRealInstant(text: string): boolean {
  const m = ISO.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  if (daysInMonth === undefined || day < 1 || day > daysInMonth) return false;
  if (hour > 23 || minute > 59 || second > 59) return false;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return false;
  const utcYear = new Date(text).getUTCFullYear();
  return utcYear >= 1 && utcYear <= 9999;
}
