/** The alerts module's public API: other modules import from here, never from its files. */
export { AlertsModule } from './alerts.module.js';
export { AlertsService } from './alerts.service.js';
export { AlertKind } from './domain/alert-kind.js';
