import { blockedAddressKind, withArticle } from './blocked-address.js';

/**
 * An outbound connection refused because its host is, or resolves to, a non-public address.
 * Raised at connect time (by `safeLookup` / `safeConnector`), so it also stops a name that looked
 * public when it was saved and resolves privately later (DNS rebinding).
 */
export class SsrfBlockedError extends Error {
  readonly code = 'ERR_CCX_BLOCKED_ADDRESS' as const;

  constructor(
    /** The host that was asked for (a name, or the address itself). */
    readonly hostname: string,
    /** The address that was refused. */
    readonly address: string,
  ) {
    const kind = withArticle(blockedAddressKind(address) ?? 'non-public');
    super(hostname === address ? `refused: ${address} is ${kind} address` : `refused: ${hostname} resolves to ${kind} address (${address})`);
    this.name = 'SsrfBlockedError';
  }
}
