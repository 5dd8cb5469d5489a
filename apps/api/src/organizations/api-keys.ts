import { createHash, randomBytes } from 'node:crypto';

/** A new API key: "ccx_" and 256 random bits, base64url. */
export function generateApiKey(): string {
  return `ccx_${randomBytes(32).toString('base64url')}`;
}

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

export function keyPrefix(key: string): string {
  return key.slice(0, 10);
}

/** What `apiKeys` shows of a secret (SPEC §12): its last 4 characters. */
export function lastFourOf(key: string): string {
  return key.slice(-4);
}

/**
 * The first day of `now`'s UTC calendar month as a `date` ("2026-01-01"): the `month` of
 * `api_key_usage`, which the gateway writes with the same rule.
 */
export function usageMonthOf(now: Date): string {
  return `${now.getUTCFullYear().toString().padStart(4, '0')}-${String(now.getUTCMonth() + 1).padStart(2, '0')}-01`;
}

/** How long a key's `last_used_at` may lag behind its real last use: one write per key per minute at most. */
export const LAST_USED_RESOLUTION_MS = 60_000;

/** True when an authentication at `now` should record itself as the key's last use. */
export function lastUsedIsStale(lastUsedAt: Date | null, now: Date): boolean {
  return lastUsedAt === null || now.getTime() - lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS;
}
