import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CreditsModule } from '../credits/index.js';
import { ListingsModule } from '../listings/index.js';
import { OrganizationsModule } from '../organizations/index.js';
import { PurchaseEntity } from './purchase.entity.js';
import { PurchasesResolver } from './purchases.resolver.js';
import { PurchasesService } from './purchases.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([PurchaseEntity]), CreditsModule, ListingsModule, OrganizationsModule],
  providers: [PurchasesService, PurchasesResolver],
  exports: [PurchasesService],
})
export class PurchasesModule {}
