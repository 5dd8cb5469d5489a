import { Global, Module } from '@nestjs/common';
import { Ledger } from '@ccx/ledger';
import { PlatformAccounts } from './platform-accounts.js';
import { refusingInPublicTerms } from './ledger-refusals.js';
import { MetricsService } from '../observability/metrics.service.js';

/**
 * One Ledger per process (it caches immutable account definitions), whose refusals arrive as
 * DomainErrors (ledger-refusals.ts), and the platform accounts.
 */
@Global()
@Module({ providers: [
    {
      provide: Ledger,
      useFactory: (metrics: MetricsService) => refusingInPublicTerms(new Ledger({ onWritten: (n) => metrics.ledgerTransactions.inc(n) })),
      inject: [MetricsService],
    },
    PlatformAccounts,
  ], exports: [Ledger, PlatformAccounts] })
export class LedgerModule {}
