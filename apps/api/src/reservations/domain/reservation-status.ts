/**
 * A reservation's status (SPEC §6). Defined here, once: the entity column and the GraphQL enum
 * both use it.
 */
export const ReservationStatus = {
  ACTIVE: 'ACTIVE',
  PAST_DUE: 'PAST_DUE',
  COMPLETED: 'COMPLETED',
  CANCELLED: 'CANCELLED',
} as const;
export type ReservationStatus = (typeof ReservationStatus)[keyof typeof ReservationStatus];
