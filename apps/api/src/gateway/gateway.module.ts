import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/index.js';
import { ListingsModule } from '../listings/index.js';
import { OrganizationsModule } from '../organizations/index.js';
import { UsageModule } from '../usage/index.js';
import { CircuitStore } from './circuit-store.js';
import { EndpointStore } from './endpoint-store.js';
import { EndpointsService } from './endpoints.service.js';
import { GatewayController } from './gateway.controller.js';
import { GatewayCreditsService } from './gateway-credits.service.js';
import { GatewayMetrics } from './gateway-metrics.js';
import { GatewayResolver, ListingServedResolver } from './gateway.resolver.js';
import { GatewayServicingService } from './gateway-servicing.service.js';
import { GatewayService } from './gateway.service.js';
import { IdempotencyStore } from './idempotency-store.js';
import { RequestLogService } from './request-log.service.js';
import { SecretBox } from './secret-box.js';

/** The inference gateway (SPEC §12): supply, routing, the breaker, credits and the request log. */
@Module({
  imports: [UsageModule, ListingsModule, OrganizationsModule, CatalogModule],
  providers: [
    SecretBox,
    EndpointStore,
    EndpointsService,
    CircuitStore,
    GatewayCreditsService,
    GatewayMetrics,
    IdempotencyStore,
    GatewayService,
    RequestLogService,
    GatewayServicingService,
    GatewayResolver,
    ListingServedResolver,
  ],
  controllers: [GatewayController],
  exports: [GatewayServicingService],
})
export class GatewayModule {}
