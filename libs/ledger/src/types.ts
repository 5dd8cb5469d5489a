import type { Decimal } from '@ccx/core';
import type { LedgerReason } from './ledger-errors.js';

/** Anything that runs SQL: a TypeORM EntityManager or QueryRunner inside the caller's transaction. */
export interface SqlRunner {
  query(sql: string, parameters?: unknown[]): Promise<any>;
}

export type Asset = 'USD' | 'CREDIT' | (string & {});

export interface AccountInput {
  /** Unique, stable, human-readable code, e.g. "wallet:org_123:USD". */
  code: string;
  asset: Asset;
  /** Who the account belongs to (an organization id, "platform", ...). */
  ownerRef?: string | null;
  /** May the balance go below zero? Wallets: false. */
  allowNegative: boolean;
  /** May the balance go above zero? Almost always true. */
  allowPositive: boolean;
  /**
   * Balance shards for a hot account with no limit (revenue, issuance): concurrent writers pick
   * different shard rows instead of queueing on one. Only unlimited accounts may have more than 1.
   */
  shards?: number;
  metadata?: Record<string, unknown>;
}

export interface Account {
  id: string;
  code: string;
  asset: Asset;
  scale: number;
  ownerRef: string | null;
  allowNegative: boolean;
  allowPositive: boolean;
  shards: number;
}

export type Direction = 'DEBIT' | 'CREDIT';

/** One leg. A DEBIT lowers the account's balance, a CREDIT raises it. */
export interface Posting {
  accountId: string;
  direction: Direction;
  /** Positive, at most the asset's scale. A string from outside, or a Decimal from domain code. */
  amount: string | Decimal;
}

export interface TransactionInput {
  /** Same key and same content: the original comes back; different content: IDEMPOTENCY_CONFLICT. */
  idempotencyKey: string;
  kind: string;
  memo?: string | null;
  metadata?: Record<string, unknown>;
  /** The business clock's instant (not part of the idempotency comparison). */
  effectiveAt: Date;
  postings: Posting[];
}

export interface TransferInput extends Omit<TransactionInput, 'postings'> {
  debitAccountId: string;
  creditAccountId: string;
  amount: string | Decimal;
}

export interface PostedTransaction {
  id: string;
  idempotencyKey: string;
  kind: string;
  memo: string | null;
  metadata: Record<string, unknown>;
  effectiveAt: Date;
  /** True when the key had already been posted and the original is returned. */
  replayed: boolean;
}

export type BatchResult =
  | { status: 'accepted'; transactionId: string }
  | { status: 'duplicate'; transactionId: string }
  | { status: 'rejected'; reason: LedgerReason; message: string };

export interface Balance {
  accountId: string;
  posted: Decimal;
  held: Decimal;
  /** posted − held */
  available: Decimal;
}

export interface EntryView {
  id: string;
  transactionId: string;
  kind: string;
  amount: Decimal;
  balanceBefore: Decimal;
  balanceAfter: Decimal;
  effectiveAt: Date;
}

export interface EntryPage {
  entries: EntryView[];
  hasNextPage: boolean;
  endCursor: string | null;
}

/** One entry of an account with its transaction's kind and metadata (account history). */
export interface HistoryEntry {
  /** The entry's id: also the cursor of `entriesOf`. */
  id: string;
  transactionId: string;
  kind: string;
  metadata: Record<string, unknown>;
  /** Signed: positive raises the account's balance. */
  amount: Decimal;
  /** The posted balance right after this entry, in business-time order. */
  balanceAfter: Decimal;
  effectiveAt: Date;
}

export interface HistoryPage {
  /** Newest first. */
  entries: HistoryEntry[];
  /** Older entries remain (pass the last entry's id as `before`). */
  hasMore: boolean;
  /** Every entry of the account. */
  total: number;
}

export interface AccountStatement {
  /** Posted balance before the period. */
  openingBalance: Decimal;
  /** Oldest first. */
  entries: HistoryEntry[];
  /** Posted balance at the end of the period: opening + the entries. */
  closingBalance: Decimal;
}

export type HoldStatus = 'PENDING' | 'POSTED' | 'VOIDED' | 'EXPIRED';

export interface HoldInput {
  idempotencyKey: string;
  debitAccountId: string;
  creditAccountId: string;
  amount: string | Decimal;
  /** After this instant the hold can no longer be posted and `expireHolds` releases it. */
  expiresAt: Date;
  metadata?: Record<string, unknown>;
}

export interface Hold {
  id: string;
  idempotencyKey: string;
  debitAccountId: string;
  creditAccountId: string;
  asset: Asset;
  amount: Decimal;
  postedAmount: Decimal | null;
  status: HoldStatus;
  expiresAt: Date;
  transactionId: string | null;
  metadata: Record<string, unknown>;
}

export interface VerifyReport {
  balanced: boolean;
  accountsChecked: number;
  transactionsChecked: number;
  problems: string[];
}
