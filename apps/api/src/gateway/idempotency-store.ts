import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { GatewayError } from './gateway-error.js';

export interface StoredAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A request still RUNNING after this long was abandoned (its process died): the key is free again. */
const ABANDONED_AFTER_MS = 10 * 60_000;

/**
 * `Idempotency-Key` for non-streaming requests (SPEC §12, Stripe's rules): the first request with a
 * key runs; a retry with the same key and body gets the stored answer without calling a provider
 * or charging again; the same key with another body is 409 `idempotency_conflict`; a retry while
 * the first still runs is 409 `request_in_progress`. Only successful answers are kept: an error
 * charged nothing, so the key is released and a retry really tries again.
 */
@Injectable()
export class IdempotencyStore {
  constructor(private readonly dataSource: DataSource) {}

  static hash(body: unknown, path: string): string {
    return createHash('sha256').update(path).update('\n').update(JSON.stringify(body)).digest('hex');
  }

  /** Null: this request owns the key and runs. Otherwise the stored answer to replay. */
  async begin(organizationId: string, key: string, hash: string): Promise<StoredAnswer | null> {
    if (key.length < 1 || key.length > 255) {
      throw new GatewayError(400, 'invalid_request_error', 'invalid_request', 'Idempotency-Key must be 1 to 255 characters', 'Idempotency-Key');
    }
    const now = new Date();
    const inserted = await this.dataSource.query(
      `INSERT INTO gateway_idempotency (organization_id, key, request_hash, state, created_at) VALUES ($1, $2, $3, 'RUNNING', $4)
       ON CONFLICT (organization_id, key) DO NOTHING RETURNING key`,
      [organizationId, key, hash, now],
    );
    if (inserted.length) return null;
    const [row] = await this.dataSource.query(
      `SELECT request_hash, state, status_code, headers, body, created_at FROM gateway_idempotency WHERE organization_id = $1 AND key = $2`,
      [organizationId, key],
    );
    if (!row) return this.begin(organizationId, key, hash); // released in between: try again
    if (row.request_hash !== hash) {
      throw new GatewayError(409, 'invalid_request_error', 'idempotency_conflict', 'This Idempotency-Key was used with a different request body', 'Idempotency-Key');
    }
    if (row.state === 'DONE') return { status: Number(row.status_code), headers: row.headers ?? {}, body: row.body };
    const taken = await this.dataSource.query(
      `UPDATE gateway_idempotency SET created_at = $3 WHERE organization_id = $1 AND key = $2 AND state = 'RUNNING' AND created_at < $4 RETURNING key`,
      [organizationId, key, now, new Date(now.getTime() - ABANDONED_AFTER_MS)],
    );
    if ((Array.isArray(taken[0]) ? taken[0] : taken).length) return null;
    throw new GatewayError(409, 'invalid_request_error', 'request_in_progress', 'A request with this Idempotency-Key is still being processed; retry shortly', 'Idempotency-Key', {}, { 'Retry-After': '1' });
  }

  async finish(organizationId: string, key: string, answer: StoredAnswer): Promise<void> {
    await this.dataSource.query(
      `UPDATE gateway_idempotency SET state = 'DONE', status_code = $3, headers = $4::jsonb, body = $5 WHERE organization_id = $1 AND key = $2`,
      [organizationId, key, answer.status, JSON.stringify(answer.headers), answer.body],
    );
  }

  async release(organizationId: string, key: string): Promise<void> {
    await this.dataSource.query(`DELETE FROM gateway_idempotency WHERE organization_id = $1 AND key = $2 AND state = 'RUNNING'`, [organizationId, key]);
  }

  /** Servicing: answers are kept 24 hours, like Stripe's. */
  async prune(now: Date): Promise<void> {
    await this.dataSource.query(`DELETE FROM gateway_idempotency WHERE created_at < $1::timestamptz - interval '24 hours'`, [now]);
  }
}
