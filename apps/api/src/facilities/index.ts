/** The facilities module's public API: other modules import from here, never from its files. */
export { FacilitiesModule } from './facilities.module.js';
export { FacilityLifecycleService } from './facility-lifecycle.service.js';
