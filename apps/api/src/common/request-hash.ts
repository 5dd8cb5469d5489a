import { createHash } from 'node:crypto';

/** Fingerprint of a request's meaningful content, to tell a replay from a conflicting reuse of a key. */
export function requestHash(content: Record<string, string | number | null>): string {
  const keys = Object.keys(content).sort();
  return createHash('sha256').update(JSON.stringify(keys.map((k) => [k, content[k]]))).digest('hex');
}
