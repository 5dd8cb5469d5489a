/** Attempts in all, including the first, before a delivery is marked failed (the row is kept). */
export const MAX_DELIVERY_ATTEMPTS = 20;
/** The longest wait between two attempts. */
export const MAX_RETRY_DELAY_MS = 3_600_000;
/** Up to this fraction is added at random, so receivers that failed together do not retry together. */
export const RETRY_JITTER = 0.1;

/**
 * Wait after the `attempts`-th failed attempt: min(2^attempts s, 1 h) plus up to 10% jitter
 * (`random` in [0, 1), injected so the schedule is testable). 2 s, 4 s, 8 s … 1 h.
 */
export function retryDelayMs(attempts: number, random: number): number {
  const base = Math.min(2 ** Math.max(attempts, 0) * 1000, MAX_RETRY_DELAY_MS);
  return Math.round(base * (1 + RETRY_JITTER * Math.min(Math.max(random, 0), 1)));
}

/** True when the `attempts`-th failure was the last one allowed. */
export function deliveryExhausted(attempts: number): boolean {
  return attempts >= MAX_DELIVERY_ATTEMPTS;
}
