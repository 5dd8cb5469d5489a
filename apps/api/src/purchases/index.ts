/** The purchases module's public API: other modules import from here, never from its files. */
export { parsePurchaseCommand } from './domain/purchase-command.js';
export { PurchasesModule } from './purchases.module.js';
export { PurchasesService } from './purchases.service.js';
