import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AlertsModule } from '../alerts/index.js';
import { CreditsModule } from '../credits/index.js';
import { FinancingRequestsModule } from '../financing-requests/index.js';
import { FreezeModule } from '../freeze/index.js';
import { ListingsModule } from '../listings/index.js';
import { OrganizationsModule } from '../organizations/index.js';
import { FacilitiesResolver } from './facilities.resolver.js';
import { FacilitiesService } from './facilities.service.js';
import { FacilityEntity } from './facility.entity.js';
import { FacilityLifecycleService } from './facility-lifecycle.service.js';
import { FacilityParties } from './facility-parties.js';
import { FacilityViews } from './facility-views.js';
import { InstallmentEntity } from './installment.entity.js';
import { RepaymentEntity } from './repayment.entity.js';
import { RepaymentsService } from './repayments.service.js';

@Module({
  imports: [
    TypeOrmModule.forFeature([FacilityEntity, InstallmentEntity, RepaymentEntity]),
    CreditsModule,
    ListingsModule,
    OrganizationsModule,
    FreezeModule,
    FinancingRequestsModule,
    AlertsModule,
  ],
  providers: [FacilitiesService, RepaymentsService, FacilityLifecycleService, FacilityParties, FacilityViews, FacilitiesResolver],
  exports: [FacilitiesService, FacilityLifecycleService],
})
export class FacilitiesModule {}
