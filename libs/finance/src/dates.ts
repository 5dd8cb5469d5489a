/**
 * `anchor` plus `months` calendar months, on the anchor's day of month clamped to the target
 * month's last day, at the anchor's UTC time of day: Jan 31 + 1 month = Feb 28 (or 29), + 2 = Mar 31.
 * Each date is computed from the anchor, never from the previous one, so clamping never drifts.
 */
export function addMonthsClamped(anchor: Date, months: number): Date {
  if (!Number.isInteger(months)) throw new RangeError('months must be a whole number');
  const year = anchor.getUTCFullYear();
  const month = anchor.getUTCMonth() + months;
  const targetYear = year + Math.floor(month / 12);
  const targetMonth = ((month % 12) + 12) % 12;
  const lastDay = new Date(Date.UTC(targetYear, targetMonth + 1, 0)).getUTCDate();
  const day = Math.min(anchor.getUTCDate(), lastDay);
  return new Date(
    Date.UTC(targetYear, targetMonth, day, anchor.getUTCHours(), anchor.getUTCMinutes(), anchor.getUTCSeconds(), anchor.getUTCMilliseconds()),
  );
}

/** Whole days from `from` to `to` (negative when `to` is earlier), by 24-hour periods. */
export function wholeDaysBetween(from: Date, to: Date): number {
  return Math.floor((to.getTime() - from.getTime()) / 86_400_000);
}
