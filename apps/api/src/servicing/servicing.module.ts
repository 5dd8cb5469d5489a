import { Module } from '@nestjs/common';
import { CreditsModule } from '../credits/credits.module.js';
import { ListingsModule } from '../listings/listings.module.js';
import { ReservationsModule } from '../reservations/reservations.module.js';
import { ServicingService } from './servicing.service.js';
import { FacilitiesModule } from '../facilities/facilities.module.js';
import { UsageModule } from '../usage/usage.module.js';
import { GatewayModule } from '../gateway/gateway.module.js';
import { AlertsModule } from '../alerts/alerts.module.js';

@Module({ imports: [CreditsModule, ListingsModule, ReservationsModule, FacilitiesModule, UsageModule, GatewayModule, AlertsModule], providers: [ServicingService], exports: [ServicingService] })
export class ServicingModule {}
