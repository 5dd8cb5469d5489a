import { promises as dns, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { isBlockedAddress } from './blocked-address.js';
import { SsrfBlockedError } from './ssrf-blocked-error.js';

/** Resolves a host name to every address it has (tests inject one that answers what they need). */
export type Resolver = (host: string) => Promise<{ address: string; family: number }[]>;

export interface SafeLookupOptions {
  /** CCX_ALLOW_PRIVATE_URLS: tests, the demo and local development reach 127.0.0.1. */
  allowPrivate: boolean;
  resolver?: Resolver;
}

/**
 * A `lookup` for `net.connect` / `tls.connect` that refuses (SsrfBlockedError) a host name with
 * any non-public address, unless `allowPrivate`. Refusing when any address is blocked, not only
 * the first, matters: with happy eyeballs (`options.all`) the socket may try every one of them,
 * and a name mixing public and private answers has no honest use.
 *
 * The check runs on the very addresses the socket then connects to, so no second resolution can
 * swap in another answer (DNS rebinding).
 */
export function safeLookup(opts: SafeLookupOptions): LookupFunction {
  return (hostname, options, callback) => {
    const family = familyOf(options.family);
    const resolve = opts.resolver ?? ((host: string) => dns.lookup(host, { all: true, family, hints: options.hints }));
    Promise.resolve()
      .then(() => resolve(hostname))
      .then(
        (found) => {
          const addresses: LookupAddress[] = found.filter((a) => family === 0 || a.family === family);
          // Outside the promise chain, so an exception in the socket code is not turned into a rejection.
          process.nextTick(() => {
            if (addresses.length === 0) {
              callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname }), '');
              return;
            }
            const blocked = opts.allowPrivate ? undefined : addresses.find((a) => isBlockedAddress(a.address));
            if (blocked) callback(new SsrfBlockedError(hostname, blocked.address), '');
            else if (options.all) callback(null, addresses);
            else callback(null, addresses[0].address, addresses[0].family);
          });
        },
        (error: NodeJS.ErrnoException) => process.nextTick(() => callback(error, '')),
      );
  };
}

function familyOf(family: number | string | undefined): 0 | 4 | 6 {
  if (family === 4 || family === 'IPv4') return 4;
  if (family === 6 || family === 'IPv6') return 6;
  return 0;
}
