/**
 * A credit block's status (SPEC §6, §7). Defined here, once: the entity column and the GraphQL
 * enum both use it.
 */
export const CreditBlockStatus = {
  ACTIVE: 'ACTIVE',
  FROZEN: 'FROZEN',
  EXPIRED: 'EXPIRED',
  EXHAUSTED: 'EXHAUSTED',
  RECOVERED: 'RECOVERED',
} as const;
export type CreditBlockStatus = (typeof CreditBlockStatus)[keyof typeof CreditBlockStatus];
