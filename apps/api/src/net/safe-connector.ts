import { isIP } from 'node:net';
import { buildConnector } from 'undici';
import { isBlockedAddress } from './blocked-address.js';
import { safeLookup, type Resolver } from './safe-lookup.js';
import { SsrfBlockedError } from './ssrf-blocked-error.js';

export interface SafeConnectorOptions {
  /** CCX_ALLOW_PRIVATE_URLS: tests, the demo and local development reach 127.0.0.1. */
  allowPrivate: boolean;
  resolver?: Resolver;
  /** Connect timeout in ms (undici's default, 10 s, when left out). */
  timeout?: number;
}

/**
 * An undici connector (the `connect` option of `Agent` / `Pool`) that refuses to open a socket to
 * a non-public address unless `allowPrivate`: a host name through `safeLookup`, on the addresses
 * the socket then uses; an IP literal here, because net.connect never calls lookup for one.
 * Errors with SsrfBlockedError (code ERR_CCX_BLOCKED_ADDRESS); nothing is sent.
 */
export function safeConnector(opts: SafeConnectorOptions): buildConnector.connector {
  const connect = buildConnector({ timeout: opts.timeout, lookup: safeLookup(opts) });
  return (options, callback) => {
    if (!opts.allowPrivate) {
      const host = options.hostname.replace(/^\[(.*)\]$/, '$1');
      if (isIP(host) && isBlockedAddress(host)) {
        // Asynchronously, as a real connection attempt would fail.
        process.nextTick(() => callback(new SsrfBlockedError(host, host), null));
        return;
      }
    }
    connect(options, callback);
  };
}
