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
    // usage_events is partitioned by month of occurred_at: [from, to) is compared with the column
    // itself, so the planner reads only the months it covers. One buyer's report reads its rows
    // through (organization_id, occurred_at); the operator's (every buyer) has no buyer condition
    // at all (an "$1 IS NULL OR" would be left to a generic plan to judge).
    const buyer = input.organizationId === null ? '' : 'organization_id = $3 AND ';
    const params: unknown[] = [input.from, input.to, ...(input.organizationId === null ? [] : [input.organizationId])];
    // By day: grouped on the UTC date (a fixed-size key, cheaper to hash than text), formatted once
    // per day; dates sort as their "YYYY-MM-DD" keys do. The days are computed in a subquery kept
    // apart (OFFSET 0): grouped directly, the planner expects one group per distinct occurred_at
    // (a million for a busy buyer's month) and sorts every row on disk; from the subquery it
    // expects a few hundred and hashes (docs/BENCHMARKS.md, "Usage report at 10 million events").
    const sql =
      input.groupBy === 'DAY'
        ? `SELECT to_char(day, 'YYYY-MM-DD') AS key, count(*)::text AS events, sum(credits)::text AS credits
             FROM (SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day, credits
                     FROM usage_events
                    WHERE ${buyer}occurred_at >= $1 AND occurred_at < $2
                   OFFSET 0) e
            GROUP BY day ORDER BY day`
        : `SELECT coalesce(model, 'gpu:' || gpu_type) AS key, count(*)::text AS events, sum(credits)::text AS credits
             FROM usage_events
            WHERE ${buyer}occurred_at >= $1 AND occurred_at < $2
            GROUP BY 1 ORDER BY 1`;
    const rows: { key: string; events: string; credits: string }[] = await this.dataSource.query(sql, params);
    return rows.map((r) => ({ key: r.key, events: Number(r.events), credits: formatAmount(r.credits, 6) }));
  }

  /** The same rows as CSV (RFC 4180; keys are quoted when they need it). */
  toCsv(rows: UsageReportRow[]): string {
    const quote = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
    return ['key,events,credits', ...rows.map((r) => `${quote(r.key)},${r.events},${r.credits}`)].join('\r\n') + '\r\n';
  }
}
