import { Body, Controller, Get, Headers, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Access } from '../auth/access.decorator.js';
import type { Principal } from '../auth/principal.js';
import { GatewayError } from './gateway-error.js';
import { GatewayService } from './gateway.service.js';

type GatewayRequest = { principal?: Principal | null };

/**
 * The OpenAI-compatible endpoints (SPEC §12). The access guard only authenticates here (an unknown
 * key is still refused); who may spend is decided by the gateway, so every error is in OpenAI's
 * shape (see GatewayError and the REST exception filter).
 */
@Controller('v1')
export class GatewayController {
  constructor(private readonly gateway: GatewayService) {}

  @Post('chat/completions')
  @HttpCode(200)
  @Access('PUBLIC')
  async chat(@Req() req: GatewayRequest, @Body() body: unknown, @Headers('idempotency-key') key: string | undefined, @Res() res: Response): Promise<void> {
    await this.gateway.handle('chat', req.principal ?? null, body, key, res);
  }

  @Post('embeddings')
  @HttpCode(200)
  @Access('PUBLIC')
  async embeddings(@Req() req: GatewayRequest, @Body() body: unknown, @Headers('idempotency-key') key: string | undefined, @Res() res: Response): Promise<void> {
    await this.gateway.handle('embeddings', req.principal ?? null, body, key, res);
  }

  @Get('models')
  @Access('PUBLIC')
  async models(@Req() req: GatewayRequest): Promise<object> {
    if (!req.principal) throw new GatewayError(401, 'authentication_error', 'invalid_api_key', 'Send a CCX API key as "Authorization: Bearer <key>"');
    return this.gateway.models();
  }
}
