import { Query, Resolver } from '@nestjs/graphql';
import { DataSource } from 'typeorm';
import { Ledger } from '@ccx/ledger';
import { Access } from '../auth/access.decorator.js';
import { LedgerIntegrity } from './models/ledger-integrity.model.js';

@Resolver()
export class IntegrityResolver {
  constructor(
    private readonly ledger: Ledger,
    private readonly dataSource: DataSource,
  ) {}

  @Query(() => LedgerIntegrity, { description: 'Operator only: checks the ledger invariants on one snapshot.' })
  @Access('OPERATOR')
  async ledgerIntegrity(): Promise<LedgerIntegrity> {
    return this.ledger.verify(this.dataSource);
  }
}
