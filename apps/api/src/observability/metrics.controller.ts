import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Access } from '../auth/access.decorator.js';
import { MetricsService } from './metrics.service.js';

/**
 * Prometheus scrape endpoint. Public at the application level: it carries no organization data
 * (counts and latencies only); restrict it at the network level in production (README).
 */
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Access('PUBLIC')
  async scrape(@Res() res: Response): Promise<void> {
    res.status(200).type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics());
  }
}
