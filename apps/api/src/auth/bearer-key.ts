/** Marks an Authorization header that is present but not "Bearer <key>". */
export const MALFORMED = Symbol('malformed Authorization header');

const BEARER = /^Bearer\s+(\S{1,256})$/i;

/**
 * The API key of "Authorization: Bearer <key>" (SPEC §2): the key, null when there is no header,
 * MALFORMED otherwise. Shared by the access guard and the rate limiter so both read a request
 * the same way. The key is a secret: callers hash it and never log it.
 */
export function bearerKey(headers: Record<string, string | string[] | undefined>): string | null | typeof MALFORMED {
  const header = headers['authorization'];
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return null;
  const match = BEARER.exec(value.trim());
  return match ? match[1] : MALFORMED;
}
