import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { BadInputError } from '@ccx/core';
import type { OrgStatus, Role } from '../auth/principal.js';
import type { OrganizationEntity } from './organization.entity.js';

export const DIRECTORY_DEFAULT_PAGE = 50;
export const DIRECTORY_MAX_PAGE = 200;

export interface DirectoryQuery {
  role?: Role | null;
  status?: OrgStatus | null;
  first?: number | null;
  after?: string | null;
}

export interface DirectoryItem extends OrganizationEntity {
  /** Insertion order: breaks ties between organizations created at the same instant. */
  seq: string;
}

/**
 * The operator's directory (SPEC §13): organizations newest first, by role and status; the
 * approvals queue is `status: PENDING`. Keyset pagination on (created_at, seq), both descending
 * (the test clock stands still, so many organizations share one created_at).
 */
@Injectable()
export class OrganizationDirectory {
  constructor(private readonly dataSource: DataSource) {}

  async page(query: DirectoryQuery): Promise<{ items: DirectoryItem[]; hasNextPage: boolean; totalCount: number }> {
    const first = query.first ?? DIRECTORY_DEFAULT_PAGE;
    if (!Number.isInteger(first) || first < 1 || first > DIRECTORY_MAX_PAGE) {
      throw new BadInputError(`first must be from 1 to ${DIRECTORY_MAX_PAGE}`, { field: 'first' });
    }
    const cursor = query.after === undefined || query.after === null ? null : decodeDirectoryCursor(query.after);
    const filter = `($1::text IS NULL OR role = $1) AND ($2::text IS NULL OR status = $2)`;
    const params = [query.role ?? null, query.status ?? null];
    const [{ n }] = await this.dataSource.query(`SELECT count(*)::int AS n FROM organizations WHERE ${filter}`, params);
    const rows: any[] = await this.dataSource.query(
      `SELECT id, name, role, status, wallet_account_id::text AS wallet_account_id, created_at, seq::text AS seq
         FROM organizations
        WHERE ${filter} AND ($3::timestamptz IS NULL OR (created_at, seq) < ($3, $4::bigint))
        ORDER BY created_at DESC, seq DESC
        LIMIT $5`,
      [...params, cursor?.createdAt ?? null, cursor?.seq ?? '0', first + 1],
    );
    const items = rows.slice(0, first).map((r) => ({
      id: r.id,
      name: r.name,
      role: r.role,
      status: r.status,
      walletAccountId: r.wallet_account_id,
      createdAt: new Date(r.created_at),
      seq: r.seq,
    }));
    return { items, hasNextPage: rows.length > first, totalCount: n };
  }
}

export function encodeDirectoryCursor(o: { createdAt: Date; seq: string }): string {
  return Buffer.from(JSON.stringify([o.createdAt.toISOString(), o.seq])).toString('base64url');
}

function decodeDirectoryCursor(cursor: string): { createdAt: Date; seq: string } {
  try {
    const [at, seq] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const createdAt = new Date(at);
    if (typeof at !== 'string' || Number.isNaN(createdAt.getTime())) throw new Error('bad date');
    if (typeof seq !== 'string' || !/^[0-9]{1,18}$/.test(seq)) throw new Error('bad seq');
    return { createdAt, seq };
  } catch {
    throw new BadInputError('after is not a cursor of this list', { field: 'after' });
  }
}
