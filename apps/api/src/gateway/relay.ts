import { once } from 'node:events';
import type { Response } from 'express';
import { Decimal, formatAmount } from '@ccx/core';
import type { GatewayConfig } from '../config/app-config.js';
import type { ChatRequest, EmbeddingsRequest } from './domain/chat-request.js';
import { upstreamBody } from './domain/chat-request.js';
import { deliveredTextBytes } from './domain/hold-bound.js';
import { isRetryableStatus, type Candidate } from './domain/routing.js';
import { CircuitStore } from './circuit-store.js';
import { GatewayCreditsService, type CloseRequest } from './gateway-credits.service.js';
import { GatewayError } from './gateway-error.js';
import { GatewayMetrics } from './gateway-metrics.js';
import type { StoredAnswer } from './idempotency-store.js';
import { SecretBox } from './secret-box.js';
import type { RateCard } from './endpoint-store.js';
import { SseParser, UpstreamClient, type UpstreamResult } from './upstream/index.js';

/** A route entry with where to reach it. */
export interface RoutedCandidate extends Candidate {
  baseUrl: string;
  sealedKey: Buffer | null;
}

export interface RelayContext {
  request: ChatRequest | EmbeddingsRequest;
  route: RoutedCandidate[];
  inputBound: number;
  hold: Decimal;
  holdId: string | null;
  /** Rate cards read when the request began: the price of the call, whichever model serves. */
  rates: Map<string, RateCard>;
  base: { requestId: string; organizationId: string; apiKeyId: string | null; model: string; stream: boolean; startedAt: Date; opened: boolean };
  /** Date.now() when the request arrived (latency and time to first token). */
  started: number;
}

interface Tokens {
  inputTokens: number;
  outputTokens: number;
  estimated: boolean;
}

/** A provider's answer larger than this is not a chat completion: the attempt failed. */
const MAX_JSON_ANSWER = 64 * 1024 * 1024;

/**
 * Calls the providers of a route in turn (SPEC §12 failover: connection errors, no headers in
 * time, 408, 429 and 5xx move on, at most 3 attempts, never once a byte reached the client) and
 * relays the answer: JSON as the provider sent it with the receipt headers, or the SSE stream
 * event by event as it arrives. Then charges through the gateway's credits — what the provider
 * reported, or by the bound rule on what was delivered — or releases the hold.
 */
export class Relay {
  constructor(
    private readonly upstream: UpstreamClient,
    private readonly circuits: CircuitStore,
    private readonly credits: GatewayCreditsService,
    private readonly secrets: SecretBox,
    private readonly metrics: GatewayMetrics,
    private readonly config: GatewayConfig,
  ) {}

  /** Answers on `res`; returns a successful JSON answer (to store for an Idempotency-Key). */
  async run(ctx: RelayContext, res: Response): Promise<StoredAnswer | null> {
    const abort = new AbortController();
    let clientGone = false;
    const onClose = () => {
      if (!res.writableFinished) {
        clientGone = true;
        abort.abort();
      }
    };
    res.on('close', onClose);
    let attempts = 0;
    let lastError = 'no provider answered';
    try {
      for (const candidate of ctx.route) {
        if (attempts >= this.config.maxAttempts || clientGone) break;
        const probe = candidate.circuit === 'probe';
        if (probe && !(await this.circuits.claimProbe(candidate.endpointId, new Date()))) continue;
        attempts += 1;
        const attemptStart = Date.now();
        const result = await this.upstream.call(
          { endpointId: candidate.endpointId, baseUrl: candidate.baseUrl, apiKey: candidate.sealedKey ? this.secrets.open(candidate.sealedKey) : null },
          {
            path: ctx.request.kind === 'chat' ? '/chat/completions' : '/embeddings',
            body: upstreamBody(ctx.request, candidate.upstreamModel),
            signal: abort.signal,
            firstByteTimeoutMs: this.config.firstByteTimeoutMs,
            stallTimeoutMs: this.config.stallTimeoutMs,
          },
        );
        if (result.kind === 'failure') {
          if (clientGone || result.reason === 'aborted') break;
          lastError = result.reason === 'first_byte_timeout' ? 'no answer in time' : result.reason === 'blocked_address' ? 'address refused' : 'connection failed';
          await this.failed(candidate);
          continue;
        }
        if (isRetryableStatus(result.status)) {
          result.cancel();
          lastError = `HTTP ${result.status}`;
          await this.failed(candidate);
          continue;
        }
        if (result.status >= 400) return await this.passClientError(ctx, candidate, probe, result, res, attempts);
        if (ctx.request.stream) {
          const streamed = await this.stream(ctx, candidate, probe, result, res, attempts, () => clientGone);
          if (streamed === 'next') {
            lastError = 'the stream failed before its first byte';
            continue;
          }
          return null;
        }
        let text: string;
        let parsed: Record<string, unknown>;
        try {
          text = await readAll(result.body);
          parsed = JSON.parse(text);
          if (!parsed || typeof parsed !== 'object') throw new Error('not an object');
        } catch {
          if (clientGone) break;
          lastError = 'an unreadable answer';
          await this.failed(candidate);
          continue;
        }
        await this.succeeded(candidate, probe, attemptStart, result.ttfbMs);
        if (clientGone) break;
        const tokens = tokensOf(parsed.usage, ctx) ?? estimate(ctx, ctx.request.kind === 'chat' ? choicesText(parsed.choices, 'message') : 0);
        const { credits } = await this.close(ctx, candidate, { status: 'SUCCEEDED', charge: true, ...tokens, attempts, ttftMs: Date.now() - ctx.started, errorCode: null });
        const headers = { 'x-ccx-request-id': ctx.base.requestId, 'x-ccx-credits': formatAmount(credits, 6) };
        for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
        res.status(200).type('application/json').send(text);
        return { status: 200, headers, body: text };
      }
      if (clientGone) {
        await this.close(ctx, null, { status: 'CANCELLED', charge: false, inputTokens: 0, outputTokens: 0, estimated: false, attempts, ttftMs: null, errorCode: 'client_closed' });
        return null;
      }
      await this.close(ctx, null, {
        status: 'FAILED',
        charge: false,
        inputTokens: 0,
        outputTokens: 0,
        estimated: false,
        attempts,
        ttftMs: null,
        errorCode: attempts ? 'provider_error' : 'no_provider_available',
      });
      if (!attempts) throw new GatewayError(503, 'api_error', 'no_provider_available', 'No provider can serve this model right now; retry shortly', 'model', {}, { 'Retry-After': '1' });
      throw new GatewayError(502, 'api_error', 'provider_error', `The provider${attempts > 1 ? 's' : ''} failed (${attempts} attempt${attempts > 1 ? 's' : ''}; last: ${lastError}). Nothing was charged`);
    } finally {
      res.off('close', onClose);
    }
  }

  /** A 4xx other than 408/429 is the client's: it goes back as it is, nothing is charged. */
  private async passClientError(ctx: RelayContext, candidate: RoutedCandidate, probe: boolean, result: Extract<UpstreamResult, { kind: 'response' }>, res: Response, attempts: number) {
    const text = await readAll(result.body).catch(() => '');
    await this.succeeded(candidate, probe, Date.now(), result.ttfbMs, 'client_error');
    await this.close(ctx, candidate, { status: 'FAILED', charge: false, inputTokens: 0, outputTokens: 0, estimated: false, attempts, ttftMs: null, errorCode: `provider_${result.status}` });
    res.status(result.status).type(result.headers['content-type'] ?? 'application/json').send(text);
    return null;
  }

  private async stream(
    ctx: RelayContext,
    candidate: RoutedCandidate,
    probe: boolean,
    result: Extract<UpstreamResult, { kind: 'response' }>,
    res: Response,
    attempts: number,
    clientGone: () => boolean,
  ): Promise<'next' | 'done'> {
    const request = ctx.request as ChatRequest;
    const iterator = result.body[Symbol.asyncIterator]();
    let first: IteratorResult<Buffer>;
    try {
      first = await iterator.next();
    } catch {
      first = { done: true, value: undefined };
    }
    if (first.done) {
      result.cancel();
      // Nothing reached the client yet: the next candidate may still serve it.
      if (!clientGone()) await this.failed(candidate);
      return 'next';
    }
    const ttftMs = Date.now() - ctx.started;
    res.status(200);
    res.setHeader('content-type', 'text/event-stream; charset=utf-8');
    res.setHeader('cache-control', 'no-cache');
    res.setHeader('x-accel-buffering', 'no');
    res.flushHeaders();

    const parser = new SseParser();
    const seen = { usage: null as unknown, usageChunk: null as Record<string, unknown> | null, bytes: 0, id: '', model: '', created: 0 };
    const forward = async (chunk: Buffer) => {
      for (const event of parser.push(chunk)) await this.forwardEvent(event.data, request, seen, res);
    };
    let failure = false;
    try {
      await forward(first.value);
      for (;;) {
        const next = await iterator.next();
        if (next.done) break;
        await forward(next.value);
      }
      for (const event of parser.end()) await this.forwardEvent(event.data, request, seen, res);
    } catch {
      failure = !clientGone();
      result.cancel();
    }
    if (failure) await this.failed(candidate);
    else if (!clientGone()) await this.succeeded(candidate, probe, ctx.started, ttftMs);
    const tokens = tokensOf(seen.usage, ctx) ?? estimate(ctx, seen.bytes);
    const status = clientGone() ? 'CANCELLED' : failure ? 'FAILED' : 'SUCCEEDED';
    const { credits } = await this.close(ctx, candidate, { status, charge: true, ...tokens, attempts, ttftMs, errorCode: failure ? 'provider_failed_mid_stream' : clientGone() ? 'client_closed' : null });
    if (!clientGone()) {
      const frame = { id: seen.id || `chatcmpl-${ctx.base.requestId}`, object: 'chat.completion.chunk', created: seen.created || Math.floor(Date.now() / 1000), model: seen.model };
      if (failure) {
        await write(res, sse({
          ...frame,
          choices: [{ index: 0, delta: {}, finish_reason: 'error' }],
          error: { message: 'The provider failed mid-stream; only what was delivered is charged', type: 'provider_error', code: 'provider_error' },
        }));
      } else if (request.includeUsage) {
        const usage = { ...((seen.usageChunk?.usage as object) ?? { prompt_tokens: tokens.inputTokens, completion_tokens: tokens.outputTokens, total_tokens: tokens.inputTokens + tokens.outputTokens }), credits: formatAmount(credits, 6), ...(tokens.estimated ? { estimated: true } : {}) };
        await write(res, sse({ ...frame, ...(seen.usageChunk ?? {}), choices: [], usage }));
      }
      await write(res, 'data: [DONE]\n\n');
      res.end();
    }
    return 'done';
  }

  /**
   * One provider event: `[DONE]` is held until CCX has charged; the usage-only chunk is held to
   * carry the credits (and dropped when the client did not ask for usage); everything else goes
   * out as it came, at once.
   */
  private async forwardEvent(
    data: string,
    request: ChatRequest,
    seen: { usage: unknown; usageChunk: Record<string, unknown> | null; bytes: number; id: string; model: string; created: number },
    res: Response,
  ): Promise<void> {
    if (data === '[DONE]') return;
    let chunk: Record<string, unknown> | null = null;
    try {
      chunk = JSON.parse(data);
    } catch {
      chunk = null;
    }
    if (!chunk || typeof chunk !== 'object') {
      await write(res, `data: ${data}\n\n`);
      return;
    }
    if (typeof chunk.id === 'string') seen.id = chunk.id;
    if (typeof chunk.model === 'string') seen.model = chunk.model;
    if (typeof chunk.created === 'number') seen.created = chunk.created;
    const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
    seen.bytes += choicesText(choices, 'delta');
    if (chunk.usage) {
      seen.usage = chunk.usage;
      if (!choices.length) {
        seen.usageChunk = chunk;
        return;
      }
      if (!request.includeUsage) {
        const { usage: _usage, ...rest } = chunk;
        await write(res, sse(rest));
        return;
      }
    }
    await write(res, `data: ${data}\n\n`);
  }

  private async close(
    ctx: RelayContext,
    candidate: RoutedCandidate | null,
    x: Pick<CloseRequest, 'status' | 'charge' | 'inputTokens' | 'outputTokens' | 'estimated' | 'attempts' | 'ttftMs' | 'errorCode'>,
  ) {
    this.metrics.requests.inc({ status: x.status });
    return this.credits.close({
      ...ctx.base,
      ...x,
      model: candidate?.model ?? ctx.base.model,
      holdId: ctx.holdId,
      hold: ctx.hold,
      rate: candidate ? rateOf(ctx.rates.get(candidate.model)) : null,
      endpointId: candidate?.endpointId ?? null,
      listingId: candidate?.listingId ?? null,
      sellerId: candidate?.sellerId ?? null,
      latencyMs: Date.now() - ctx.started,
    });
  }

  /** A failed attempt: counted, and judged by the breaker (a failed probe re-opens the circuit). */
  private async failed(candidate: RoutedCandidate): Promise<void> {
    this.metrics.attempt(candidate.endpointId, 'failed');
    const circuit = await this.circuits.recordFailure(candidate.endpointId, new Date());
    this.metrics.circuitState(candidate.endpointId, circuit.state);
  }

  private async succeeded(candidate: RoutedCandidate, probe: boolean, since: number, ttfbMs: number, outcome: 'ok' | 'client_error' = 'ok'): Promise<void> {
    this.metrics.attempt(candidate.endpointId, outcome);
    this.metrics.timed(candidate.endpointId, (Date.now() - since) / 1000, ttfbMs / 1000);
    await this.circuits.recordSuccess(candidate.endpointId, probe, new Date());
    if (probe) this.metrics.circuitState(candidate.endpointId, 'CLOSED');
  }
}

function sse(value: unknown): string {
  return `data: ${JSON.stringify(value)}\n\n`;
}

/** Writes with backpressure: waits for 'drain' (or the client leaving) when the socket is full. */
async function write(res: Response, text: string): Promise<void> {
  if (res.writableEnded || res.destroyed) return;
  if (!res.write(text)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
}

async function readAll(body: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_JSON_ANSWER) throw new Error('answer too large');
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString('utf8');
}

function choicesText(choices: unknown, field: 'message' | 'delta'): number {
  if (!Array.isArray(choices)) return 0;
  return deliveredTextBytes(choices.map((c) => (c as Record<string, unknown>)?.[field]));
}

/** The provider's usage, when it reported a sane one. */
function tokensOf(usage: unknown, ctx: RelayContext): Tokens | null {
  if (!usage || typeof usage !== 'object') return null;
  const u = usage as Record<string, unknown>;
  const input = u.prompt_tokens;
  const output = ctx.request.kind === 'chat' ? u.completion_tokens : 0;
  const ok = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (!ok(input) || !ok(output)) return null;
  return { inputTokens: input as number, outputTokens: output as number, estimated: false };
}

/** No usage from the provider: the bound rule on what it sent (SPEC §12), marked estimated. */
function estimate(ctx: RelayContext, deliveredBytes: number): Tokens {
  return { inputTokens: ctx.inputBound, outputTokens: deliveredBytes, estimated: true };
}

function rateOf(card: RateCard | undefined): { inputPerMillion: Decimal; outputPerMillion: Decimal } | null {
  return card ? { inputPerMillion: card.input, outputPerMillion: card.output } : null;
}
