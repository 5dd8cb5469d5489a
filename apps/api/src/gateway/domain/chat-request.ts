import { BadInputError } from '@ccx/core';
import { parseProviderPreferences, type ProviderPreferences } from './routing.js';

/** A chat completion request as CCX reads it; every other field is passed through untouched. */
export interface ChatRequest {
  kind: 'chat';
  /** The requested model, then the `models` fallbacks, without repeats. */
  models: string[];
  stream: boolean;
  /** The client asked for the usage chunk (`stream_options.include_usage`). */
  includeUsage: boolean;
  maxTokens: number | null;
  n: number;
  messages: unknown[];
  prefs: ProviderPreferences;
  /** The client's body, to forward (CCX's own routing fields removed). */
  body: Record<string, unknown>;
}

export interface EmbeddingsRequest {
  kind: 'embeddings';
  models: string[];
  stream: false;
  input: unknown;
  prefs: ProviderPreferences;
  body: Record<string, unknown>;
}

const MAX_FALLBACKS = 5;
const MAX_MESSAGES = 100_000;
const MAX_TOKENS = 10_000_000;

function bad(message: string, param: string | null): BadInputError {
  return new BadInputError(message, { param });
}

function object(raw: unknown): Record<string, unknown> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw bad('the body must be a JSON object', null);
  return raw as Record<string, unknown>;
}

function modelsOf(body: Record<string, unknown>): string[] {
  const model = body.model;
  const fallbacks = body.models;
  const valid = (m: unknown): m is string => typeof m === 'string' && m.length >= 1 && m.length <= 200;
  if (fallbacks !== undefined && (!Array.isArray(fallbacks) || fallbacks.length > MAX_FALLBACKS || !fallbacks.every(valid))) {
    throw bad(`models must be a list of at most ${MAX_FALLBACKS} model ids`, 'models');
  }
  if (model !== undefined && !valid(model)) throw bad('model must be a model id', 'model');
  const list = [...(model !== undefined ? [model] : []), ...((fallbacks as string[] | undefined) ?? [])];
  if (!list.length) throw bad('model is required', 'model');
  return [...new Set(list)];
}

function positiveInt(value: unknown, param: string, max: number): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw bad(`${param} must be a whole number from 1 to ${max}`, param);
  }
  return value;
}

function forwardable(body: Record<string, unknown>): Record<string, unknown> {
  const { provider: _provider, models: _models, ...rest } = body;
  return rest;
}

/** Validates what CCX relies on (OpenAI's rules for those fields); BAD_USER_INPUT names the param. */
export function parseChatRequest(raw: unknown): ChatRequest {
  const body = object(raw);
  const models = modelsOf(body);
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0 || messages.length > MAX_MESSAGES) {
    throw bad('messages must be a non-empty list of messages', 'messages');
  }
  messages.forEach((m, i) => {
    if (!m || typeof m !== 'object' || Array.isArray(m) || typeof (m as { role?: unknown }).role !== 'string') {
      throw bad(`messages[${i}] must be an object with a role`, `messages[${i}]`);
    }
  });
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') throw bad('stream must be true or false', 'stream');
  const streamOptions = body.stream_options;
  if (streamOptions !== undefined && streamOptions !== null && (typeof streamOptions !== 'object' || Array.isArray(streamOptions))) {
    throw bad('stream_options must be an object', 'stream_options');
  }
  const maxTokens = positiveInt(body.max_completion_tokens, 'max_completion_tokens', MAX_TOKENS) ?? positiveInt(body.max_tokens, 'max_tokens', MAX_TOKENS);
  const n = positiveInt(body.n, 'n', 128) ?? 1;
  return {
    kind: 'chat',
    models,
    stream: body.stream === true,
    includeUsage: (streamOptions as { include_usage?: unknown } | undefined)?.include_usage === true,
    maxTokens,
    n,
    messages,
    prefs: parseProviderPreferences(body.provider),
    body: forwardable(body),
  };
}

export function parseEmbeddingsRequest(raw: unknown): EmbeddingsRequest {
  const body = object(raw);
  const models = modelsOf(body);
  const input = body.input;
  const ok =
    typeof input === 'string' ||
    (Array.isArray(input) && input.length > 0 && input.length <= 2048 && input.every((x) => typeof x === 'string' || typeof x === 'number' || Array.isArray(x)));
  if (!ok || (typeof input === 'string' && input.length === 0)) throw bad('input must be a string or a non-empty list', 'input');
  return { kind: 'embeddings', models, stream: false, input, prefs: parseProviderPreferences(body.provider), body: forwardable(body) };
}

/**
 * The body sent to a provider: the client's, with the provider's own model name and, for a
 * stream, usage always asked for (SPEC §12: the charge comes from the provider's usage).
 */
export function upstreamBody(request: ChatRequest | EmbeddingsRequest, upstreamModel: string): string {
  const body: Record<string, unknown> = { ...request.body, model: upstreamModel };
  if (request.kind === 'chat' && request.stream) {
    body.stream_options = { ...((request.body.stream_options as object | undefined) ?? {}), include_usage: true };
  }
  return JSON.stringify(body);
}
