import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { formatAmount } from '@ccx/core';
import type { UsageReportQuery } from './domain/usage-report.js';

export interface UsageReportRow {
  key: string;
  events: number;
  credits: string;
}

/**
 * Usage reports (SPEC §8): events and credits by UTC day (key "YYYY-MM-DD") or by model (GPU-time
 * events under "gpu:<type>"), for events that occurred in [from, to). Credits are the charged
 * amounts stored on each event — the same figures the ledger's usage transactions moved.
 */
@Injectable()
export class UsageReportsService {
  constructor(private readonly dataSource: DataSource) {}

  async report(input: UsageReportQuery): Promise<UsageReportRow[]> {
    const key =
      input.groupBy === 'DAY'
        ? `to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`
        : `coalesce(model, 'gpu:' || gpu_type)`;
    const rows: { key: string; events: string; credits: string }[] = await this.dataSource.query(
      `SELECT ${key} AS key, count(*)::text AS events, sum(credits)::text AS credits
       FROM usage_events
       WHERE ($1::uuid IS NULL OR organization_id = $1) AND occurred_at >= $2 AND occurred_at < $3
       GROUP BY 1 ORDER BY 1`,
      [input.organizationId, input.from, input.to],
    );
    return rows.map((r) => ({ key: r.key, events: Number(r.events), credits: formatAmount(r.credits, 6) }));
  }

  /** The same rows as CSV (RFC 4180; keys are quoted when they need it). */
  toCsv(rows: UsageReportRow[]): string {
    const quote = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
    return ['key,events,credits', ...rows.map((r) => `${quote(r.key)},${r.events},${r.credits}`)].join('\r\n') + '\r\n';
  }
}
