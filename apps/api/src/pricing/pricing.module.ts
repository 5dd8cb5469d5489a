import { Module } from '@nestjs/common';
import { ListingsModule } from '../listings/index.js';
import { PricingResolver } from './pricing.resolver.js';
import { PricingService } from './pricing.service.js';

@Module({ imports: [ListingsModule], providers: [PricingService, PricingResolver] })
export class PricingModule {}
