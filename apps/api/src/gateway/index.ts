/** The gateway module's public API: other modules import from here, never from its files. */
export { GatewayServicingService } from './gateway-servicing.service.js';
export { GatewayModule } from './gateway.module.js';
