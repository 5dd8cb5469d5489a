/**
 * Outbound URLs without SSRF: what CCX may call (buyers' webhooks, providers' base URLs) is
 * checked when it is saved (`assertPublicUrl`) and again on every connection (`safeConnector`,
 * `safeLookup`), against the address actually connected to. CCX_ALLOW_PRIVATE_URLS turns the
 * address checks off for tests, the demo and local development.
 */
export { isBlockedAddress } from './blocked-address.js';
export { assertPublicUrl } from './public-url.js';
export { safeLookup } from './safe-lookup.js';
export { safeConnector } from './safe-connector.js';
export { SsrfBlockedError } from './ssrf-blocked-error.js';
