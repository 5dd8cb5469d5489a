/** The freeze module's public API: other modules import from here, never from its files. */
export { FreezeAction } from './domain/freeze-action.js';
export { FreezeModule } from './freeze.module.js';
export { FreezeService } from './freeze.service.js';
