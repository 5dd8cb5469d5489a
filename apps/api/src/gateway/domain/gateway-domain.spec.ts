import { Decimal } from '@ccx/core';
import { afterFailure, afterSuccess, CLOSED, claimProbe, retryAfterSeconds, routable, type BreakerSettings, type Circuit } from './breaker.js';
import { parseChatRequest, parseEmbeddingsRequest, upstreamBody } from './chat-request.js';
import { affordableMaxTokens, chatInputBound, chatOutputBound, deliveredTextBytes, embeddingInputBound, tokenRate, tokensCost } from './hold-bound.js';
import { NO_PREFERENCES, parseProviderPreferences, routeFor, isRetryableStatus, type Candidate } from './routing.js';

const S: BreakerSettings = { consecutiveFailures: 5, windowMs: 60_000, minRequests: 10, failureRatio: 0.5, openMs: 30_000, probeLeaseMs: 35_000 };
const T0 = new Date('2026-01-05T12:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

describe('circuit breaker (SPEC §12)', () => {
  it.each([
    ['4 failures in a row stay closed', 4, { requests: 40, failures: 4 }, 'CLOSED'],
    ['the 5th failure in a row opens', 5, { requests: 40, failures: 5 }, 'OPEN'],
    ['more than half of 10 in the window opens', 1, { requests: 10, failures: 6 }, 'OPEN'],
    ['exactly half of 10 stays closed', 1, { requests: 10, failures: 5 }, 'CLOSED'],
    ['more than half of 9 stays closed (too few requests)', 1, { requests: 9, failures: 8 }, 'CLOSED'],
  ])('%s', (_name, failures, window, state) => {
    let c: Circuit = CLOSED;
    for (let i = 0; i < failures; i++) c = afterFailure(c, window, T0, S);
    expect(c.state).toBe(state);
    if (state === 'OPEN') expect(c.openUntil).toEqual(at(30_000));
  });

  it('a success ends the streak', () => {
    let c: Circuit = CLOSED;
    for (let i = 0; i < 4; i++) c = afterFailure(c, { requests: 100, failures: 4 }, T0, S);
    c = afterSuccess(c);
    c = afterFailure(c, { requests: 100, failures: 5 }, T0, S);
    expect(c).toMatchObject({ state: 'CLOSED', consecutiveFailures: 1 });
  });

  it('open → probe after 30 s → closed on success, or open again on failure', () => {
    const open: Circuit = { state: 'OPEN', consecutiveFailures: 5, openUntil: at(30_000), probeUntil: null };
    expect(routable(open, at(29_999))).toBe('open');
    expect(routable(open, at(30_000))).toBe('probe');
    const half = claimProbe(open, at(30_000), S);
    expect(half.state).toBe('HALF_OPEN');
    expect(routable(half, at(31_000))).toBe('open'); // one probe at a time
    expect(routable(half, at(30_000 + 35_000))).toBe('probe'); // a probe that never reported
    expect(afterSuccess(half)).toEqual(CLOSED);
    expect(afterFailure(half, { requests: 1, failures: 1 }, at(31_000), S)).toMatchObject({ state: 'OPEN', openUntil: at(61_000) });
  });

  it('Retry-After is the time until the first open circuit may be probed', () => {
    expect(retryAfterSeconds([{ state: 'OPEN', consecutiveFailures: 5, openUntil: at(12_300), probeUntil: null }, CLOSED], T0)).toBe(13);
    expect(retryAfterSeconds([CLOSED], T0)).toBeNull();
  });
});

const cand = (id: string, cost: string, owed: string, errorRate = 0, seq = 1n, extra: Partial<Candidate> = {}): Candidate => ({
  endpointId: id,
  model: 'm',
  upstreamModel: 'm',
  listingId: `l-${id}`,
  sellerId: 's',
  wholesaleCostPerCredit: new Decimal(cost),
  owed: new Decimal(owed),
  errorRate,
  seq,
  circuit: 'closed',
  ...extra,
});

describe('routing order (SPEC §12)', () => {
  const hold = new Decimal('1');
  it.each([
    ['owing capacity comes before a lower price', [cand('a', '1.0', '0'), cand('b', '2.0', '5')], ['b', 'a']],
    ['owing less than the hold does not count as owing', [cand('a', '1.0', '0.5'), cand('b', '2.0', '0.9')], ['a', 'b']],
    ['then the lowest cost per credit', [cand('a', '2.0', '5'), cand('b', '1.5', '5')], ['b', 'a']],
    ['then the lowest recent error rate', [cand('a', '1.0', '5', 0.2), cand('b', '1.0', '5', 0.1)], ['b', 'a']],
    ['then the oldest endpoint', [cand('a', '1.0', '5', 0, 9n), cand('b', '1.0', '5', 0, 3n)], ['b', 'a']],
    ['open circuits are left out', [cand('a', '1.0', '5', 0, 1n, { circuit: 'open' }), cand('b', '2.0', '5')], ['b']],
  ])('%s', (_name, list, expected) => {
    expect(routeFor(new Map([['m', list]]), ['m'], NO_PREFERENCES, hold).map((c) => c.endpointId)).toEqual(expected);
  });

  const three = [cand('a', '1', '5'), cand('b', '2', '5'), cand('c', '3', '5')];
  it.each([
    ['order puts the named first, then the rest', { order: ['c'] }, ['c', 'a', 'b']],
    ['order without fallbacks keeps only the named', { order: ['c', 'b'], allow_fallbacks: false }, ['c', 'b']],
    ['only narrows', { only: ['b', 'c'] }, ['b', 'c']],
    ['ignore removes', { ignore: ['a'] }, ['b', 'c']],
  ])('provider: %s', (_name, provider, expected) => {
    expect(routeFor(new Map([['m', three]]), ['m'], parseProviderPreferences(provider), hold).map((c) => c.endpointId)).toEqual(expected);
  });

  it('fallback models come after the first model, and not at all without fallbacks', () => {
    const byModel = new Map([
      ['m', [cand('a', '1', '5')]],
      ['m2', [cand('x', '0.1', '5', 0, 1n, { model: 'm2' })]],
    ]);
    expect(routeFor(byModel, ['m', 'm2'], NO_PREFERENCES, hold).map((c) => c.endpointId)).toEqual(['a', 'x']);
    expect(routeFor(byModel, ['m', 'm2'], parseProviderPreferences({ allow_fallbacks: false }), hold).map((c) => c.endpointId)).toEqual(['a']);
  });

  it.each([[408, true], [429, true], [500, true], [503, true], [400, false], [401, false], [404, false], [422, false]])('status %i retryable: %s', (status, retryable) => {
    expect(isRetryableStatus(status)).toBe(retryable);
  });

  it.each([{ order: 'a' }, { only: [1] }, { allow_fallbacks: 'no' }, 'x'])('a malformed provider object is BAD_USER_INPUT: %j', (provider) => {
    expect(() => parseProviderPreferences(provider)).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
  });
});

describe('hold bound (SPEC §12)', () => {
  const rate = tokenRate({ inputPerMillion: new Decimal('2'), outputPerMillion: new Decimal('6') });
  it('input: UTF-8 bytes of the messages + 8 per message (and tools)', () => {
    const messages = [{ role: 'user', content: 'héllo' }, { role: 'assistant', content: 'x' }];
    const expected = Buffer.byteLength(JSON.stringify(messages[0])) + 8 + Buffer.byteLength(JSON.stringify(messages[1])) + 8;
    expect(chatInputBound({ messages })).toBe(expected);
    const tools = [{ type: 'function', function: { name: 'f', parameters: {} } }];
    expect(chatInputBound({ messages, tools })).toBe(expected + Buffer.byteLength(JSON.stringify(tools)));
  });
  it.each([
    [null, 4096, 1, 4096],
    [100, 4096, 1, 100],
    [100, 4096, 3, 300],
    [null, 500, 2, 1000],
  ])('output: max_tokens %p, model max %i, n %i → %i', (max, modelMax, n, expected) => {
    expect(chatOutputBound(max, modelMax, n)).toBe(expected);
  });
  it('embeddings: bytes of each input + 8', () => {
    expect(embeddingInputBound('abc')).toBe(5 + 8);
    expect(embeddingInputBound(['abc', 'de'])).toBe(5 + 8 + 4 + 8);
  });
  it.each([
    ['0.001', 30, 1],
    ['0.05', 30, 2],
    ['1', 100, 3],
    ['0.00006', 30, 1],
  ])('affordable max_tokens with %s available is the largest that fits', (availableText, input, n) => {
    const avail = new Decimal(availableText);
    const k = affordableMaxTokens(avail, input, rate, n)!;
    expect(tokensCost({ inputTokens: input, outputTokens: k * n }, rate).lte(avail)).toBe(true);
    if (tokensCost({ inputTokens: input, outputTokens: 0 }, rate).lte(avail)) expect(tokensCost({ inputTokens: input, outputTokens: (k + 1) * n }, rate).gt(avail)).toBe(true);
  });
  it('delivered text counts content, reasoning and tool calls', () => {
    expect(deliveredTextBytes([{ content: 'ab', tool_calls: [{ function: { name: 'f', arguments: '{"x":1}' } }] }, { reasoning_content: 'é' }])).toBe(2 + 1 + 7 + 2);
  });
});

describe('chat request parsing', () => {
  it('keeps unknown fields, drops routing fields, asks the provider for usage when streaming', () => {
    const r = parseChatRequest({ model: 'm', models: ['m2'], provider: { order: [] }, messages: [{ role: 'user', content: 'x' }], stream: true, top_k: 3, n: 2 });
    expect(r.models).toEqual(['m', 'm2']);
    expect(r.n).toBe(2);
    const sent = JSON.parse(upstreamBody(r, 'up/m'));
    expect(sent).toEqual({ model: 'up/m', messages: [{ role: 'user', content: 'x' }], stream: true, top_k: 3, n: 2, stream_options: { include_usage: true } });
  });
  it('max_completion_tokens wins over max_tokens', () => {
    expect(parseChatRequest({ model: 'm', messages: [{ role: 'user' }], max_tokens: 10, max_completion_tokens: 20 }).maxTokens).toBe(20);
  });
  it.each([
    [{ messages: [{ role: 'user' }] }, 'model'],
    [{ model: 'm', messages: 'x' }, 'messages'],
    [{ model: 'm', messages: [{ role: 'user' }], n: 1.5 }, 'n'],
    [{ model: 'm', messages: [{ role: 'user' }], max_tokens: 0 }, 'max_tokens'],
    [{ model: 'm', messages: [{ role: 'user' }], models: ['a', 'b', 'c', 'd', 'e', 'f'] }, 'models'],
    [{ model: 'm', messages: [{ role: 'user' }], stream_options: [] }, 'stream_options'],
  ])('%j is refused naming %s', (body, param) => {
    expect(() => parseChatRequest(body)).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT', details: { param } }));
  });
  it('embeddings need an input', () => {
    expect(() => parseEmbeddingsRequest({ model: 'm' })).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
    expect(parseEmbeddingsRequest({ model: 'm', input: ['a'] }).input).toEqual(['a']);
  });
});
