import { createHmac, randomBytes } from 'node:crypto';

/** Prefix of webhook signing secrets, so one is recognisable in a config file or a leak scan. */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';

/** A new signing secret: `whsec_` + 32 random bytes, base64url (43 characters). */
export function newWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(32).toString('base64url');
}

/**
 * The `CCX-Signature` header (Stripe-style): `t=<unix seconds>,v1=<hex HMAC-SHA256>` over
 * `"<t>.<raw body>"`. The timestamp is inside the signed text so a receiver can refuse replays
 * of an old, validly signed request by checking `t` against its own clock.
 */
export function signatureHeader(secret: string, unixSeconds: number, rawBody: string): string {
  const digest = createHmac('sha256', secret).update(`${unixSeconds}.${rawBody}`, 'utf8').digest('hex');
  return `t=${unixSeconds},v1=${digest}`;
}
