import { isIP } from 'node:net';
import { BadInputError } from '@ccx/core';
import { blockedAddressKind, withArticle } from './blocked-address.js';

/** Longest outbound URL accepted (a webhook URL, a provider base URL). */
export const MAX_URL_LENGTH = 2048;

/**
 * Names that reach this machine or a private network by convention rather than by DNS:
 * localhost (RFC 6761), mDNS .local, and .internal (ICANN's private-use TLD, and cloud metadata's
 * metadata.google.internal). Resolving them would not help: they answer differently per network.
 */
const INTERNAL_NAMES = /(^|\.)(localhost|internal|local)$/;

/**
 * Checks an outbound URL when it is saved: an absolute http(s) URL of at most 2048 characters,
 * with a host and without credentials. Unless `allowPrivate`, a literal IP host (after WHATWG
 * normalisation, so 0x7f000001, 2130706433, 0177.0.0.1 and 127.1 are all 127.0.0.1) in a blocked
 * range is refused, and so are localhost, *.localhost, *.internal and *.local. Host names are not
 * resolved here: what they resolve to is checked on every connection (`safeConnector`), since an
 * answer now says nothing about the answer at delivery time.
 *
 * @returns the parsed URL
 * @throws BadInputError (BAD_USER_INPUT) naming `field` (default "url")
 */
export function assertPublicUrl(raw: string, opts: { allowPrivate: boolean; field?: string }): URL {
  const field = opts.field ?? 'url';
  const refuse = (message: string) => new BadInputError(`${field} ${message}`, { field });
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_URL_LENGTH) {
    throw refuse(`must be an http(s) URL of 1 to ${MAX_URL_LENGTH} characters`);
  }
  // The URL parser would quietly drop them; what is stored must be what is called.
  if (raw.trim() !== raw) throw refuse('must not start or end with spaces');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse('is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw refuse('must start with https:// or http://');
  if (!url.hostname) throw refuse('must name a host');
  // Credentials in a URL end up in logs and in every read of the settings that hold it.
  if (url.username || url.password) throw refuse('must not contain a user name or password');
  if (!opts.allowPrivate) {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (isIP(host)) {
      const kind = blockedAddressKind(host);
      if (kind) throw refuse(`must point at a public internet address: ${host} is ${withArticle(kind)} address`);
    } else if (INTERNAL_NAMES.test(host.replace(/\.$/, ''))) {
      throw refuse(`must point at a public internet address: ${host} is a local or internal name`);
    }
  }
  return url;
}
