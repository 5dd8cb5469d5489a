import { Controller, Get, Query, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Access } from '../auth/access.decorator.js';
import type { Principal } from '../auth/principal.js';
import { StatementsService } from './statements.service.js';
import { parseStatementMonth } from './domain/statement-commands.js';

/** The monthly statement as CSV (SPEC §13), with the same access rules as `statement`. */
@Controller('v1/wallet')
export class StatementsController {
  constructor(private readonly statements: StatementsService) {}

  /** `?month=YYYY-MM[&organizationId=…]` (organizationId: the operator only). */
  @Get('statement.csv')
  @Access('AUTHENTICATED')
  async csv(
    @Req() req: { principal: Principal },
    @Res() res: Response,
    @Query('month') month?: string,
    @Query('organizationId') organizationId?: string,
  ): Promise<void> {
    const owner = await this.statements.target(req.principal, organizationId);
    const statement = await this.statements.statement(owner, parseStatementMonth(month));
    res
      .status(200)
      .type('text/csv; charset=utf-8')
      .setHeader('content-disposition', `attachment; filename="statement-${statement.month}.csv"`)
      .send(this.statements.toCsv(statement));
  }
}
