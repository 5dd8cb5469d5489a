import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { BadInputError, DomainError, ErrorCode, formatAmount } from '@ccx/core';
import { Ledger, type HistoryEntry } from '@ccx/ledger';
import { LedgerRefusal } from '../ledger/ledger-refusals.js';
import type { Principal } from '../auth/principal.js';
import { parseId } from '../common/ids.js';
import { OrganizationsService } from '../organizations/index.js';
import type { OrganizationFacts } from '../organizations/index.js';
import type { EntriesPage, StatementMonth } from './domain/statement-commands.js';
import { describeWalletEntry } from './domain/wallet-entry-kind.js';
import type { WalletEntryModel } from './models/wallet-entry.model.js';

export interface StatementView {
  month: string;
  openingBalance: string;
  closingBalance: string;
  entries: WalletEntryModel[];
}

/**
 * Wallet entries and monthly statements (SPEC §13), read from the ledger through its public API
 * (`entriesOf`, `statementOf`) on one snapshot, so every figure is the ledger's own.
 */
@Injectable()
export class StatementsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: Ledger,
    private readonly organizations: OrganizationsService,
  ) {}

  /** The operator may name any organization; everyone else reads its own wallet only. */
  async target(principal: Principal, organizationId?: string | null): Promise<OrganizationFacts> {
    if (organizationId === undefined || organizationId === null) return this.organizations.get(principal.organizationId);
    if (principal.role !== 'OPERATOR' && organizationId !== principal.organizationId) {
      throw new DomainError(ErrorCode.FORBIDDEN, "only the operator may read another organization's wallet");
    }
    return this.organizations.get(parseId(organizationId, 'organization'));
  }

  async entries(owner: OrganizationFacts, { first, after }: EntriesPage) {
    const history = await this.snapshot((m) => this.ledger.entriesOf(m, owner.walletAccountId, { before: after, limit: first })).catch((error) => {
      if (error instanceof LedgerRefusal && error.reason === 'INVALID_TRANSACTION') throw new BadInputError('after is not a cursor of this list', { field: 'after' });
      throw error;
    });
    return { items: history.entries.map((e) => toModel(e, owner.role)), hasNextPage: history.hasMore, totalCount: history.total };
  }

  async statement(owner: OrganizationFacts, { month, from, to }: StatementMonth): Promise<StatementView> {
    const s = await this.snapshot((m) => this.ledger.statementOf(m, owner.walletAccountId, from, to));
    return {
      month,
      openingBalance: formatAmount(s.openingBalance, 2),
      closingBalance: formatAmount(s.closingBalance, 2),
      entries: s.entries.map((e) => toModel(e, owner.role)),
    };
  }

  /** RFC 4180: an opening row, one row per entry (oldest first), a closing row. */
  toCsv(s: StatementView): string {
    const cell = (v: string | null) => {
      if (v === null) return '';
      // A reference is text from outside (a deposit reference): never a spreadsheet formula.
      const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
      return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
    };
    const [y, m] = s.month.split('-').map(Number);
    const start = new Date(Date.UTC(y, m - 1, 1)).toISOString();
    const end = new Date(Date.UTC(y, m, 1)).toISOString();
    const lines = [
      'date,kind,reference,amount,balance_after,entry_id',
      `${start},opening_balance,,,${s.openingBalance},`,
      ...s.entries.map((e) => `${e.createdAt.toISOString()},${e.kind},${cell(e.reference)},${e.amount},${e.balanceAfter},${e.id}`),
      `${end},closing_balance,,,${s.closingBalance},`,
    ];
    return lines.join('\r\n') + '\r\n';
  }

  /** One consistent, read-only view of the ledger for the whole read. */
  private snapshot<T>(read: (manager: import('typeorm').EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction('REPEATABLE READ', async (manager) => {
      await manager.query('SET TRANSACTION READ ONLY');
      return read(manager);
    });
  }
}

function toModel(e: HistoryEntry, ownerRole: string): WalletEntryModel {
  const { kind, reference } = describeWalletEntry({ transactionKind: e.kind, metadata: e.metadata, amount: e.amount, ownerRole });
  return {
    id: e.id,
    kind,
    amount: formatAmount(e.amount, 2),
    balanceAfter: formatAmount(e.balanceAfter, 2),
    reference,
    createdAt: e.effectiveAt,
  };
}
