import { Module } from '@nestjs/common';
import { OrganizationsModule } from '../organizations/index.js';
import { StatementsController } from './statements.controller.js';
import { StatementsResolver } from './statements.resolver.js';
import { StatementsService } from './statements.service.js';

/** Wallet entries and monthly statements: reads of the ledger, no tables of its own. */
@Module({
  imports: [OrganizationsModule],
  providers: [StatementsService, StatementsResolver],
  controllers: [StatementsController],
})
export class StatementsModule {}
