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
