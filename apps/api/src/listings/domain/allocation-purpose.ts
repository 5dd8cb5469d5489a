/** What an allocation of listed capacity backs: a purchase, a reservation or a facility. */
export const AllocationPurpose = {
  PURCHASE: 'PURCHASE',
  RESERVATION: 'RESERVATION',
  FACILITY: 'FACILITY',
} as const;
export type AllocationPurpose = (typeof AllocationPurpose)[keyof typeof AllocationPurpose];
