import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ListingsModule } from '../listings/index.js';
import { OrganizationsModule } from '../organizations/index.js';
import { CreditBlockEntity } from './credit-block.entity.js';
import { CreditsResolver } from './credits.resolver.js';
import { CreditsService } from './credits.service.js';
import { DeliveryService } from './delivery/delivery.service.js';
import { SellerWallets } from './delivery/seller-wallets.js';

@Module({
  imports: [TypeOrmModule.forFeature([CreditBlockEntity]), ListingsModule, OrganizationsModule],
  providers: [CreditsService, CreditsResolver, DeliveryService, SellerWallets],
  exports: [CreditsService, DeliveryService],
})
export class CreditsModule {}
