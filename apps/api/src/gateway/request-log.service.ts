import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { BadInputError, DomainError, ErrorCode } from '@ccx/core';
import type { Principal } from '../auth/principal.js';
import { parseId } from '../common/ids.js';
import type { InferenceRequestStatus } from './domain/inference-request.js';

export interface InferenceRequestRow {
  id: string;
  model: string;
  endpointId: string | null;
  /** RUNNING rows are never read here. */
  status: InferenceRequestStatus;
  attempts: number;
  inputTokens: number;
  outputTokens: number;
  credits: string;
  estimated: boolean;
  stream: boolean;
  latencyMs: number;
  ttftMs: number | null;
  createdAt: Date;
}

const MAX_PAGE = 100;

/**
 * The request log as each role may read it (SPEC §12): a buyer its own requests, a seller those
 * its endpoints served, the operator all (or one organization's). Newest first; requests still
 * in flight are not shown. Prompts and completions were never stored.
 */
@Injectable()
export class RequestLogService {
  constructor(private readonly dataSource: DataSource) {}

  async page(principal: Principal, args: { first?: number | null; after?: string | null; organizationId?: string | null }) {
    const first = args.first ?? 20;
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw new BadInputError(`first must be from 1 to ${MAX_PAGE}`, { field: 'first' });
    let scope: { column: 'organization_id' | 'seller_id' | null; id: string | null };
    if (principal.role === 'OPERATOR') {
      scope = args.organizationId ? { column: 'organization_id', id: parseId(args.organizationId, 'organization') } : { column: null, id: null };
    } else if (args.organizationId && args.organizationId !== principal.organizationId) {
      throw new DomainError(ErrorCode.FORBIDDEN, "only the operator may read another organization's requests");
    } else if (principal.role === 'BUYER') {
      scope = { column: 'organization_id', id: principal.organizationId };
    } else if (principal.role === 'SELLER') {
      scope = { column: 'seller_id', id: principal.organizationId };
    } else {
      throw new DomainError(ErrorCode.FORBIDDEN, 'a LENDER organization has no gateway requests');
    }
    const cursor = args.after ? decodeCursor(args.after) : null;
    const where = [`status <> 'RUNNING'`];
    const params: unknown[] = [];
    if (scope.column) {
      params.push(scope.id);
      where.push(`${scope.column} = $${params.length}`);
    }
    const countWhere = where.join(' AND ');
    const countParams = [...params];
    if (cursor) {
      params.push(cursor.createdAt, cursor.id);
      // The plain bound is implied by the row comparison; it is there for the planner, which prunes
      // the later months' partitions on it (it cannot on a row comparison).
      where.push(`created_at <= $${params.length - 1}`, `(created_at, id) < ($${params.length - 1}, $${params.length})`);
    }
    params.push(first + 1);
    const [rows, [count]] = await Promise.all([
      this.dataSource.query(
        `SELECT id, model, endpoint_id, status, attempts, input_tokens, output_tokens, credits::text AS credits, estimated, stream,
                latency_ms, ttft_ms, created_at
           FROM inference_requests WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
        params,
      ),
      this.dataSource.query(`SELECT count(*)::int AS n FROM inference_requests WHERE ${countWhere}`, countParams),
    ]);
    const items: InferenceRequestRow[] = rows.slice(0, first).map((r: Record<string, any>) => ({
      id: r.id,
      model: r.model,
      endpointId: r.endpoint_id,
      status: r.status,
      attempts: Number(r.attempts),
      inputTokens: Number(r.input_tokens),
      outputTokens: Number(r.output_tokens),
      credits: r.credits,
      estimated: r.estimated,
      stream: r.stream,
      latencyMs: Number(r.latency_ms),
      ttftMs: r.ttft_ms === null ? null : Number(r.ttft_ms),
      createdAt: new Date(r.created_at),
    }));
    return { items, hasNextPage: rows.length > first, totalCount: Number(count.n) };
  }
}

export function encodeCursor(r: { createdAt: Date; id: string }): string {
  return Buffer.from(JSON.stringify([r.createdAt.toISOString(), r.id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const createdAt = new Date(at);
    if (Number.isNaN(createdAt.getTime())) throw new Error('bad date');
    return { createdAt, id: parseId(id, 'cursor') };
  } catch {
    throw new BadInputError('after is not a cursor of this list', { field: 'after' });
  }
}
