import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CatalogModule } from '../catalog/index.js';
import { OrganizationsModule } from '../organizations/index.js';
import { AllocationEntity } from './allocation.entity.js';
import { ListingEntity } from './listing.entity.js';
import { ListingsResolver } from './listings.resolver.js';
import { ListingsService } from './listings.service.js';
import { MarketService } from './market.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([ListingEntity, AllocationEntity]), CatalogModule, OrganizationsModule],
  providers: [ListingsService, MarketService, ListingsResolver],
  exports: [ListingsService, MarketService],
})
export class ListingsModule {}
