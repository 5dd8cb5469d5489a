import { Module } from '@nestjs/common';
import { CreditsModule } from '../credits/index.js';
import { ListingsModule } from '../listings/index.js';
import { ReservationsModule } from '../reservations/index.js';
import { ServicingService } from './servicing.service.js';
import { FacilitiesModule } from '../facilities/index.js';
import { UsageModule } from '../usage/index.js';
import { GatewayModule } from '../gateway/index.js';
import { AlertsModule } from '../alerts/index.js';

@Module({ imports: [CreditsModule, ListingsModule, ReservationsModule, FacilitiesModule, UsageModule, GatewayModule, AlertsModule], providers: [ServicingService], exports: [ServicingService] })
export class ServicingModule {}
