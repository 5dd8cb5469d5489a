import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { MetricsService } from './metrics.service.js';

/** Counts and times every HTTP request once its response is finished (errors included). */
@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware {
  constructor(private readonly metrics: MetricsService) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const route = MetricsService.route(req.originalUrl ?? req.url);
    const stop = this.metrics.httpDuration.startTimer({ method: req.method, route });
    res.on('finish', () => {
      stop();
      this.metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  }
}
