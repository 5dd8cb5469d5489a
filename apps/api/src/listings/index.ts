/** The listings module's public API: other modules import from here, never from its files. */
export { cheapestFill } from './domain/fill.js';
export type { Capacity, Fill } from './domain/fill.js';
export { ListingsModule } from './listings.module.js';
export { ListingsService } from './listings.service.js';
export { MarketService } from './market.service.js';
export type { AllocatedPart, MarketFill } from './market.service.js';
export { ListingModel, toListingModel } from './models/listing.model.js';
