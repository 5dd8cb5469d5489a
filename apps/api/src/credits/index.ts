/** The credits module's public API: other modules import from here, never from its files. */
export { lockBuyerCredits } from './buyer-lock.js';
export { CreditsModule } from './credits.module.js';
export { CreditsService } from './credits.service.js';
export type { CreditBlock, SpendableBlockRow } from './credits.service.js';
export { DeliveryService } from './delivery/delivery.service.js';
export { CreditType } from './domain/credit-type.js';
export { CreditBlockModel } from './models/credit-block.model.js';
