/**
 * How a block's credits were obtained (SPEC §6): bought now, delivered by a reservation, or
 * financed by a facility. Defined here, once: the entity column and the GraphQL enum both use it.
 */
export const CreditType = {
  STANDARD: 'STANDARD',
  RESERVED: 'RESERVED',
  FINANCED: 'FINANCED',
} as const;
export type CreditType = (typeof CreditType)[keyof typeof CreditType];
