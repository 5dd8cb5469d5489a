import { Decimal } from '@ccx/core';
import { eventCost, type Rate } from '../../usage/index.js';

/** Tokens a call can at most be billed for (SPEC §12), before any provider is asked. */
export interface TokenBound {
  inputTokens: number;
  outputTokens: number;
}

/** Per message: the role and the framing tokens a chat template adds. */
const TOKENS_PER_MESSAGE = 8;

/** UTF-8 bytes of a value as JSON: a token is never shorter than a byte, so this bounds its tokens. */
export function jsonBytes(value: unknown): number {
  return value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/**
 * The input bound: the UTF-8 length of the messages plus 8 per message. Tools, functions and a
 * response schema reach the model as input too, so their bytes count as well (an upper bound that
 * a provider can never exceed honestly).
 */
export function chatInputBound(body: { messages: unknown[]; tools?: unknown; functions?: unknown; response_format?: unknown; tool_choice?: unknown }): number {
  let bytes = 0;
  for (const m of body.messages) bytes += jsonBytes(m) + TOKENS_PER_MESSAGE;
  return bytes + jsonBytes(body.tools) + jsonBytes(body.functions) + jsonBytes(body.response_format) + jsonBytes(body.tool_choice);
}

/** The output bound: `max_tokens` (or `max_completion_tokens`, else the model's) × `n`. */
export function chatOutputBound(maxTokens: number | null, modelMaxOutput: number, n: number): number {
  return (maxTokens ?? modelMaxOutput) * n;
}

/** Embeddings: every input string or token array, by bytes, plus 8 each; no output. */
export function embeddingInputBound(input: unknown): number {
  const items = Array.isArray(input) && input.length > 0 && typeof input[0] !== 'number' ? input : [input];
  return items.reduce<number>((sum, item) => sum + jsonBytes(item) + TOKENS_PER_MESSAGE, 0);
}

export function tokenRate(rate: { inputPerMillion: Decimal; outputPerMillion: Decimal }): Rate {
  return { kind: 'tokens', ...rate };
}

/** Credits of a token count at a rate card, rounded up to the micro-credit (SPEC §8). */
export function tokensCost(bound: TokenBound, rate: Rate, model = ''): Decimal {
  return eventCost({ kind: 'tokens', model, ...bound }, rate);
}

/**
 * The largest `max_tokens` the buyer could afford with `available` credits, for the 402 body: the
 * input bound is paid first, then `n` completions of that many tokens each. Never negative.
 */
export function affordableMaxTokens(available: Decimal, inputTokens: number, rate: Rate, n: number): number | null {
  if (rate.kind !== 'tokens') return null;
  const inputCost = tokensCost({ inputTokens, outputTokens: 0 }, rate);
  if (inputCost.gt(available)) return 0;
  if (rate.outputPerMillion.isZero()) return null; // output is free: no bound from credits
  let k = available.minus(new Decimal(inputTokens).times(rate.inputPerMillion).div(1_000_000))
    .times(1_000_000)
    .div(rate.outputPerMillion)
    .div(n)
    .integerValue(Decimal.ROUND_FLOOR)
    .toNumber();
  // The cost rounds up to the micro-credit: step down until it fits.
  while (k > 0 && tokensCost({ inputTokens, outputTokens: k * n }, rate).gt(available)) k -= 1;
  return Math.max(0, k);
}

/**
 * Output tokens of what a provider sent, when it reported no usage: by the same bound rule, one
 * per UTF-8 byte of the text it produced (content, reasoning, refusals, tool calls).
 */
export function deliveredTextBytes(choiceParts: unknown[]): number {
  let bytes = 0;
  for (const part of choiceParts) bytes += textBytes(part);
  return bytes;
}

function textBytes(part: unknown): number {
  if (!part || typeof part !== 'object') return 0;
  const p = part as Record<string, unknown>;
  let bytes = 0;
  for (const key of ['content', 'reasoning_content', 'reasoning', 'refusal']) {
    if (typeof p[key] === 'string') bytes += Buffer.byteLength(p[key] as string, 'utf8');
  }
  const calls = Array.isArray(p.tool_calls) ? p.tool_calls : [];
  for (const call of calls) {
    const fn = (call as { function?: { name?: unknown; arguments?: unknown } })?.function;
    if (typeof fn?.name === 'string') bytes += Buffer.byteLength(fn.name, 'utf8');
    if (typeof fn?.arguments === 'string') bytes += Buffer.byteLength(fn.arguments, 'utf8');
  }
  const fc = p.function_call as { name?: unknown; arguments?: unknown } | undefined;
  if (typeof fc?.name === 'string') bytes += Buffer.byteLength(fc.name, 'utf8');
  if (typeof fc?.arguments === 'string') bytes += Buffer.byteLength(fc.arguments, 'utf8');
  return bytes;
}
