import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { OrganizationsModule } from '../organizations/index.js';
import { PayoutEntity } from './payout.entity.js';
import { PayoutsResolver } from './payouts.resolver.js';
import { PayoutsService } from './payouts.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([PayoutEntity]), OrganizationsModule],
  providers: [PayoutsService, PayoutsResolver],
})
export class PayoutsModule {}
