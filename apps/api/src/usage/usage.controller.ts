import { Body, Controller, Get, HttpCode, HttpException, HttpStatus, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { BadInputError } from '@ccx/core';
import { Access } from '../auth/access.decorator.js';
import type { Principal } from '../auth/principal.js';
import { reportTarget } from './usage.resolver.js';
import { UsageReportsService } from './usage-reports.service.js';
import { parseUsageReportQuery } from './domain/usage-report.js';
import { UsageService, type UsageOutcome } from './usage.service.js';
import { parseUsageEventCommand } from './domain/usage-event.js';

export const MAX_BATCH = 1000;

/** The REST metering endpoints (SPEC §8): the gateway's high-volume path and the CSV report. */
@Controller('v1/usage')
export class UsageController {
  constructor(
    private readonly usage: UsageService,
    private readonly reports: UsageReportsService,
  ) {}

  /**
   * `{"events":[...]}`, 1 to 1,000 events: 200 with one result per event, in request order.
   * A malformed body changes nothing and is answered 400 (413 when too large; 415 when it is not
   * sent as JSON, which the body parser would leave unread and we would call an empty body).
   */
  @Post()
  @HttpCode(200)
  @Access('OPERATOR')
  async record(@Req() req: Request, @Body() body: unknown): Promise<{ results: Omit<UsageOutcome, never>[] }> {
    // No Content-Type, or another one (req.is is null only for a request without a body).
    if (!req.headers['content-type'] || req.is('application/json') === false) {
      throw new HttpException('send the body as JSON, with Content-Type: application/json', HttpStatus.UNSUPPORTED_MEDIA_TYPE);
    }
    const events = (body as { events?: unknown } | null)?.events;
    if (!Array.isArray(events)) throw new BadInputError('the body must be {"events": [...]}');
    if (events.length < 1 || events.length > MAX_BATCH) throw new BadInputError(`a batch has 1 to ${MAX_BATCH} events; this one has ${events.length}`);
    const outcomes = await this.usage.recordBatch(events.map(parseUsageEventCommand));
    return { results: outcomes };
  }

  /** The usage report as CSV: `?from=…&to=…&groupBy=DAY|MODEL[&organizationId=…]`. */
  @Get('report.csv')
  @Access('BUYER', 'OPERATOR')
  async csv(
    @Req() req: { principal: Principal },
    @Res() res: Response,
    @Query('from') from?: string,
    @Query('to') to?: string,
    @Query('groupBy') groupBy?: string,
    @Query('organizationId') organizationId?: string,
  ): Promise<void> {
    const instant = (v: string | undefined, field: string) => {
      const d = typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) ? new Date(v) : new Date(NaN);
      if (Number.isNaN(d.getTime())) throw new BadInputError(`${field} must be an ISO-8601 instant`, { field });
      return d;
    };
    const rows = await this.reports.report(
      parseUsageReportQuery({
        organizationId: reportTarget(req.principal, organizationId),
        from: instant(from, 'from'),
        to: instant(to, 'to'),
        groupBy: groupBy ?? 'DAY',
      }),
    );
    res.status(200).type('text/csv; charset=utf-8').send(this.reports.toCsv(rows));
  }
}
