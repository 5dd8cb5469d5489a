/** How a usage report groups events (SPEC §8): by UTC day or by model. The GraphQL enum too. */
export const UsageGroupBy = {
  DAY: 'DAY',
  MODEL: 'MODEL',
} as const;
export type UsageGroupBy = (typeof UsageGroupBy)[keyof typeof UsageGroupBy];
