/**
 * The chart of accounts: the code of every ledger account the app opens, in one place, for the
 * services that open them and the tests that read them. A code is stored with its account and
 * looked up by forever after (ledger_accounts.code is unique and immutable), so a format here
 * never changes once accounts exist with it.
 */

/** An organization's wallet: USD it can spend (never below zero). */
export const walletAccountCode = (organizationId: string): string => `wallet:${organizationId}:USD`;

/** A listing's unsold capacity, in credits. */
export const listingAccountCode = (listingId: string): string => `listing:${listingId}:CREDIT`;

/** A credit block: the credits its owner bought and has not used, expired or sold back. */
export const blockAccountCode = (blockId: string): string => `block:${blockId}:CREDIT`;

/** A reservation's capacity, set aside for the months not delivered yet. */
export const reservationAccountCode = (reservationId: string): string => `reservation:${reservationId}:CREDIT`;

/** A facility's debt: the borrower's side, negative while principal and interest are owed. */
export const facilityDebtAccountCode = (facilityId: string): string => `facility:${facilityId}:debt:USD`;

/** A facility's receivable: the lender's side, what the borrower still owes it. */
export const facilityReceivableAccountCode = (facilityId: string): string => `facility:${facilityId}:receivable:USD`;

/** The platform's own accounts. None has a limit, so all are sharded (no hot row). */
export const PLATFORM_ACCOUNTS = {
  /** Money entering from outside (bank or card deposits): goes negative as wallets fill. */
  bank: { code: 'platform:bank:USD', asset: 'USD' },
  /** The platform's margin on sales, fees and early-termination fees. */
  revenue: { code: 'platform:revenue:USD', asset: 'USD' },
  /** Pays recoveries (buy-back of frozen credits). */
  treasury: { code: 'platform:treasury:USD', asset: 'USD' },
  /** Payouts requested by sellers and lenders, out of their wallets until the operator marks them paid (→ bank) or rejects them (→ back to the wallet). */
  pendingPayouts: { code: 'platform:pending-payouts:USD', asset: 'USD' },
  /** Source of listed capacity: goes negative as sellers list credits. */
  issuance: { code: 'platform:issuance:CREDIT', asset: 'CREDIT' },
  /** Capacity taken off the market by a withdrawal or an expiry. */
  withdrawn: { code: 'platform:withdrawn:CREDIT', asset: 'CREDIT' },
  /** Credits that expired unused in a block. */
  expired: { code: 'platform:expired:CREDIT', asset: 'CREDIT' },
  /** Credits spent on usage. */
  consumed: { code: 'platform:consumed:CREDIT', asset: 'CREDIT' },
  /** Credits bought back in recoveries. */
  inventory: { code: 'platform:inventory:CREDIT', asset: 'CREDIT' },
} as const;

export type PlatformAccountName = keyof typeof PLATFORM_ACCOUNTS;

/** The code of a platform account, e.g. `platformAccountCode('revenue')` is 'platform:revenue:USD'. */
export const platformAccountCode = (name: PlatformAccountName): string => PLATFORM_ACCOUNTS[name].code;
