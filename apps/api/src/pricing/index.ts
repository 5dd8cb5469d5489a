/** The pricing module's public API: other modules import from here, never from its files. */
export { monthlyDeliveries, reservedUnitPrice, standardUnitPrice, termDiscount, totalPrice } from './domain/pricing.js';
