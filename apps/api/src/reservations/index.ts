/** The reservations module's public API: other modules import from here, never from its files. */
export { ReservationsModule } from './reservations.module.js';
export { ReservationsService } from './reservations.service.js';
