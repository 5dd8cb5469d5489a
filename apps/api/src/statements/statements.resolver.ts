import { Args, ID, Int, Query, Resolver } from '@nestjs/graphql';
import { Access } from '../auth/access.decorator.js';
import { CurrentPrincipal } from '../auth/current-principal.decorator.js';
import type { Principal } from '../auth/principal.js';
import { StatementModel, WalletEntryConnection } from './models/wallet-entry.model.js';
import { StatementsService } from './statements.service.js';
import { parseEntriesPage, parseStatementMonth } from './domain/statement-commands.js';

@Resolver()
export class StatementsResolver {
  constructor(private readonly statements: StatementsService) {}

  @Query(() => WalletEntryConnection, {
    description: "Every movement of a USD wallet, newest first, from the ledger. Your own; the operator may name any organization. first: 1 to 200, default 50.",
  })
  @Access('AUTHENTICATED')
  async walletEntries(
    @CurrentPrincipal() principal: Principal,
    @Args('first', { type: () => Int, nullable: true }) first?: number | null,
    @Args('after', { type: () => String, nullable: true }) after?: string | null,
    @Args('organizationId', { type: () => ID, nullable: true }) organizationId?: string | null,
  ): Promise<WalletEntryConnection> {
    // Who may read the wallet is decided before the page is looked at (FORBIDDEN comes first).
    const owner = await this.statements.target(principal, organizationId);
    const page = await this.statements.entries(owner, parseEntriesPage({ first, after }));
    const edges = page.items.map((node) => ({ cursor: node.id, node }));
    return {
      edges,
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.length ? edges[edges.length - 1].cursor : null },
      totalCount: page.totalCount,
    };
  }

  @Query(() => StatementModel, {
    description: 'A calendar month (UTC) of a USD wallet: opening balance, every entry oldest first, closing balance. Also GET /v1/wallet/statement.csv?month=YYYY-MM.',
  })
  @Access('AUTHENTICATED')
  async statement(
    @CurrentPrincipal() principal: Principal,
    @Args('month') month: string,
    @Args('organizationId', { type: () => ID, nullable: true }) organizationId?: string | null,
  ): Promise<StatementModel> {
    const owner = await this.statements.target(principal, organizationId);
    return this.statements.statement(owner, parseStatementMonth(month));
  }
}
