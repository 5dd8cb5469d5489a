import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { PurchasesModule } from '../purchases/index.js';
import { AlertEntity } from './alert.entity.js';
import { AlertsResolver } from './alerts.resolver.js';
import { AlertsService } from './alerts.service.js';
import { AutoRefillJobEntity } from './auto-refill-job.entity.js';
import { AutoRefillWorker } from './auto-refill.worker.js';
import { BalanceSettingsEntity } from './balance-settings.entity.js';
import { BalanceSettingsService } from './balance-settings.service.js';
import { WebhookDeliveryEntity } from './webhook-delivery.entity.js';
import { WebhookDispatcher } from './webhook-dispatcher.js';

/**
 * Alerts, balance settings, webhook delivery and auto-refill (SPEC §8). Other modules import it
 * for `AlertsService` (emit, balanceChanged); it depends on purchases only for auto-refill.
 */
@Module({
  imports: [TypeOrmModule.forFeature([BalanceSettingsEntity, AlertEntity, WebhookDeliveryEntity, AutoRefillJobEntity]), PurchasesModule],
  providers: [AlertsService, BalanceSettingsService, AlertsResolver, WebhookDispatcher, AutoRefillWorker],
  exports: [AlertsService, WebhookDispatcher, AutoRefillWorker],
})
export class AlertsModule {}
