import { Module } from '@nestjs/common';
import { AlertsModule } from '../alerts/index.js';
import { CatalogModule } from '../catalog/index.js';
import { CreditsModule } from '../credits/index.js';
import { OrganizationsModule } from '../organizations/index.js';
import { UsageAccounts } from './usage-accounts.js';
import { UsageController } from './usage.controller.js';
import { UsageHoldsService } from './usage-holds.service.js';
import { UsageHoldBatchService } from './usage-hold-batch.service.js';
import { UsageReportsService } from './usage-reports.service.js';
import { UsageResolver } from './usage.resolver.js';
import { UsageService } from './usage.service.js';

@Module({
  imports: [AlertsModule, CatalogModule, CreditsModule, OrganizationsModule],
  providers: [UsageAccounts, UsageService, UsageHoldsService, UsageHoldBatchService, UsageReportsService, UsageResolver],
  controllers: [UsageController],
  exports: [UsageService, UsageHoldsService, UsageHoldBatchService, UsageAccounts],
})
export class UsageModule {}
