import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CreditBlockEntity } from './credit-block.entity.js';
import { CreditsResolver } from './credits.resolver.js';
import { CreditsService } from './credits.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([CreditBlockEntity])],
  providers: [CreditsService, CreditsResolver],
  exports: [CreditsService],
})
export class CreditsModule {}
