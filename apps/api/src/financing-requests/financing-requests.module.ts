import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { OrganizationsModule } from '../organizations/index.js';
import { BorrowerProfiles } from './borrower-profiles.js';
import { FinancingRequestEntity } from './financing-request.entity.js';
import { FinancingRequestsResolver } from './financing-requests.resolver.js';
import { FinancingRequestsService } from './financing-requests.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([FinancingRequestEntity]), OrganizationsModule],
  providers: [FinancingRequestsService, FinancingRequestsResolver, BorrowerProfiles],
  exports: [FinancingRequestsService],
})
export class FinancingRequestsModule {}
