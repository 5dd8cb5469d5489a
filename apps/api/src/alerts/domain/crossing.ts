import type { Decimal } from '@ccx/core';

/**
 * True when a balance moved from at or above `threshold` to strictly below it (SPEC §8: "crossing
 * below it emits one alert"). Staying above, staying below or rising never counts, so one
 * downward crossing yields one alert; going back above and down again yields the next one.
 */
export function crossedBelow(before: Decimal, after: Decimal, threshold: Decimal | null): boolean {
  if (threshold === null) return false;
  return before.gte(threshold) && after.lt(threshold);
}
