/**
 * A listing's lifecycle (SPEC §4). Defined here, once: the entity column, the GraphQL enum and the
 * listings filter all use it. Time turns OPEN and SOLD_OUT into EXPIRED (listing.entity.ts).
 */
export const ListingStatus = {
  OPEN: 'OPEN',
  SOLD_OUT: 'SOLD_OUT',
  WITHDRAWN: 'WITHDRAWN',
  EXPIRED: 'EXPIRED',
} as const;
export type ListingStatus = (typeof ListingStatus)[keyof typeof ListingStatus];
