/** The usage module's public API: other modules import from here, never from its files. */
export { eventCost } from './domain/usage-rules.js';
export type { Rate } from './domain/usage-rules.js';
export { UsageHoldBatchService } from './usage-hold-batch.service.js';
export { UsageHoldsService } from './usage-holds.service.js';
export { UsageModule } from './usage.module.js';
