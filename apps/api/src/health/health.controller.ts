import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import type { Response } from 'express';
import { DataSource } from 'typeorm';
import { Access } from '../auth/access.decorator.js';
import { migrations } from '../../../../migrations/index.js';

@Controller('health')
export class HealthController {
  constructor(private readonly dataSource: DataSource) {}

  /** 200 when the database answers, 503 when it does not. */
  @Get()
  @Access('PUBLIC')
  async health(@Res() res: Response): Promise<void> {
    try {
      await Promise.race([
        this.dataSource.query('SELECT 1'),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref()),
      ]);
      res.status(HttpStatus.OK).json({ status: 'ok', database: 'up' });
    } catch {
      res.status(HttpStatus.SERVICE_UNAVAILABLE).json({ status: 'unavailable', database: 'down' });
    }
  }

  /**
   * Readiness: the database answers and every migration this build knows is applied. A load
   * balancer sends traffic only when this is 200.
   */
  @Get('ready')
  @Access('PUBLIC')
  async ready(@Res() res: Response): Promise<void> {
    try {
      const applied: { name: string }[] = await Promise.race([
        this.dataSource.query('SELECT name FROM migrations'),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref()),
      ]);
      const names = new Set(applied.map((m) => m.name));
      const pending = migrations.map((m) => m.name).filter((name) => !names.has(name));
      if (pending.length) {
        res.status(HttpStatus.SERVICE_UNAVAILABLE).json({ status: 'unavailable', database: 'up', pendingMigrations: pending });
        return;
      }
      res.status(HttpStatus.OK).json({ status: 'ready', database: 'up', migrations: names.size });
    } catch {
      res.status(HttpStatus.SERVICE_UNAVAILABLE).json({ status: 'unavailable', database: 'down' });
    }
  }
}
