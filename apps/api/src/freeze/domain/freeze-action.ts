/** What a freeze event records, defined once: the entity column and the GraphQL enum FreezeAction. */
export const FreezeAction = {
  FREEZE: 'FREEZE',
  UNFREEZE: 'UNFREEZE',
} as const;
export type FreezeAction = (typeof FreezeAction)[keyof typeof FreezeAction];
