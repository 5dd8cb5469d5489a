import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { DomainError, ErrorCode } from '@ccx/core';
import { fromDomainError, GatewayError } from './openai-error.js';
import { publicMessage } from '../common/refusals.js';
import { HTTP_STATUS_OF_CODE } from './error-status.js';
import { isDatabaseUnavailable, isUnstorableInput, SERVICE_UNAVAILABLE_MESSAGE, UNSTORABLE_INPUT_MESSAGE } from '../graphql/format-error.js';

/**
 * REST counterpart of the GraphQL error formatter: `{"error":{"code","message"}}` with the code
 * of SPEC §11 and a matching HTTP status. GraphQL errors are left to Apollo's formatError.
 */
@Catch()
export class RestExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('RestError');

  catch(exception: unknown, host: ArgumentsHost): unknown {
    if (host.getType<string>() !== 'http') return exception;
    const res = host.switchToHttp().getResponse<Response>();
    const req = host.switchToHttp().getRequest<Request>();
    if (isGatewayPath(req.path)) {
      // The OpenAI-compatible endpoints answer in OpenAI's error shape (SPEC §12).
      const e = exception instanceof GatewayError ? exception : this.asGatewayError(exception);
      for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
      res.status(e.status).json(e.body());
      return undefined;
    }
    const [status, code, message] = this.describe(exception);
    res.status(status).json({ error: { code, message } });
    return undefined;
  }

  private asGatewayError(exception: unknown): GatewayError {
    const [status, code, message] = this.describe(exception);
    if (status === 413) return new GatewayError(413, 'invalid_request_error', 'request_too_large', message);
    if (status >= 500 && code !== ErrorCode.SERVICE_UNAVAILABLE) return new GatewayError(status, 'api_error', 'internal_error', message);
    if (status === 404 && !(exception instanceof DomainError)) return new GatewayError(404, 'invalid_request_error', 'not_found', message);
    return fromDomainError(new DomainError(code as ErrorCode, message));
  }

  private describe(exception: unknown): [number, string, string] {
    if (exception instanceof DomainError) {
      return [HTTP_STATUS_OF_CODE[exception.code], exception.code, publicMessage(exception)];
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const code = status === 404 ? ErrorCode.NOT_FOUND : status < 500 ? ErrorCode.BAD_USER_INPUT : ErrorCode.INTERNAL;
      return [status, code, status < 500 ? exception.message : 'Internal server error'];
    }
    const bodyParser = exception as { type?: string; status?: number };
    // 413 carries a SPEC §11 code like every other answer.
    if (bodyParser?.type === 'entity.too.large') return [413, ErrorCode.BAD_USER_INPUT, 'the request body is too large'];
    if (bodyParser?.type === 'entity.parse.failed') return [400, ErrorCode.BAD_USER_INPUT, 'the request body is not valid JSON'];
    if (isUnstorableInput(exception)) {
      this.logger.warn(`unvalidated input reached the database: ${(exception as Error).message}`);
      return [400, ErrorCode.BAD_USER_INPUT, UNSTORABLE_INPUT_MESSAGE];
    }
    if (isDatabaseUnavailable(exception)) {
      return [503, ErrorCode.SERVICE_UNAVAILABLE, SERVICE_UNAVAILABLE_MESSAGE];
    }
    this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    return [500, ErrorCode.INTERNAL, 'Internal server error'];
  }
}

/** The OpenAI-compatible paths, whose errors follow OpenAI's shape. */
export function isGatewayPath(path: string): boolean {
  const p = path.toLowerCase();
  return p.startsWith('/v1/chat/') || p === '/v1/embeddings' || p === '/v1/models';
}
