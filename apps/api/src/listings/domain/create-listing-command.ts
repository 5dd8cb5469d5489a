import { BadInputError, type Decimal } from '@ccx/core';
import { inputAmount, PRICE_SCALE, textInput } from '../../common/amounts.js';

/** The catalog's figures for the listed GPU type, as they are when the listing is made. */
export interface ListedGpuType {
  name: string;
  creditsPerGpuHour: Decimal;
}

/** A new listing as the service takes it: the GPU type resolved, amounts parsed, the window ordered. */
export interface CreateListingCommand {
  sellerId: string;
  gpu: ListedGpuType;
  region: string;
  gpuHours: Decimal;
  wholesalePricePerGpuHour: Decimal;
  availableFrom: Date;
  availableUntil: Date;
}

/** The createListing input as it arrives (gpuType is resolved against the catalog before this). */
export interface CreateListingFields {
  region: unknown;
  gpuHours: unknown;
  wholesalePricePerGpuHour: unknown;
  availableFrom: Date;
  availableUntil: Date;
}

/**
 * Parses a listing at the edge, after its GPU type was found in the catalog (an unknown one is
 * NOT_FOUND before anything else is judged). BAD_USER_INPUT names the first bad field, in the
 * order region, gpuHours, wholesalePricePerGpuHour, availableUntil (after availableFrom). What
 * depends on the clock (a window still open) is the service's to judge.
 */
export function parseCreateListingCommand(sellerId: string, gpu: ListedGpuType, input: CreateListingFields): CreateListingCommand {
  const region = textInput(input.region, 'region', 64);
  const gpuHours = inputAmount(input.gpuHours, 'gpuHours', { scale: 2 });
  const wholesalePricePerGpuHour = inputAmount(input.wholesalePricePerGpuHour, 'wholesalePricePerGpuHour', { scale: PRICE_SCALE });
  if (!(input.availableUntil.getTime() > input.availableFrom.getTime())) {
    throw new BadInputError('availableUntil must be after availableFrom', { field: 'availableUntil' });
  }
  return { sellerId, gpu, region, gpuHours, wholesalePricePerGpuHour, availableFrom: input.availableFrom, availableUntil: input.availableUntil };
}
