import { DomainError } from '@ccx/core';
import { MAX_ENDPOINT_MODELS, parseCreateEndpoint, parseSetEndpointEnabled } from './endpoint-command.js';

const SELLER = '5d1f0b8e-3c2a-4b7e-8f1d-9a0c6e2b4d31';
const LISTING = '7e2a9c14-0b3d-4f5e-a6c7-1d8e2f3a4b5c';
const good = { listingId: LISTING, baseUrl: 'https://llm.example.com/v1/', models: [{ model: 'llama' }] };
const PUBLIC = { allowPrivateUrls: false };

/** The code, field and message an input is refused with (null: accepted). */
function refusal(parse: () => unknown): [string, unknown, string] | null {
  try {
    parse();
    return null;
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return [error.code, error.details.field, error.message];
  }
}

describe('parseCreateEndpoint (SPEC §12 supply)', () => {
  it.each<[string, Record<string, unknown>, [string, unknown] | null]>([
    ['a good endpoint', good, null],
    ['a listing id that is not a UUID', { ...good, listingId: 'x' }, ['NOT_FOUND', undefined]],
    ['the listing is judged before the URL', { ...good, listingId: 'x', baseUrl: 7 }, ['NOT_FOUND', undefined]],
    ['a baseUrl that is not text', { ...good, baseUrl: 7 }, ['BAD_USER_INPUT', 'baseUrl']],
    ['a non-http URL', { ...good, baseUrl: 'ftp://x.example.com' }, ['BAD_USER_INPUT', 'baseUrl']],
    ['a private address', { ...good, baseUrl: 'http://127.0.0.1:8000' }, ['BAD_USER_INPUT', 'baseUrl']],
    ['localhost', { ...good, baseUrl: 'http://localhost:8000' }, ['BAD_USER_INPUT', 'baseUrl']],
    ['the URL is judged before the key', { ...good, baseUrl: 'nope', apiKey: '' }, ['BAD_USER_INPUT', 'baseUrl']],
    ['an empty apiKey', { ...good, apiKey: '' }, ['BAD_USER_INPUT', 'apiKey']],
    ['an apiKey over two lines', { ...good, apiKey: 'a\nb' }, ['BAD_USER_INPUT', 'apiKey']],
    ['an apiKey of 1001 characters', { ...good, apiKey: 'k'.repeat(1001) }, ['BAD_USER_INPUT', 'apiKey']],
    ['a null apiKey (none)', { ...good, apiKey: null }, null],
    ['no models', { ...good, models: [] }, ['BAD_USER_INPUT', 'models']],
    ['models not a list', { ...good, models: 'llama' }, ['BAD_USER_INPUT', 'models']],
    ['too many models', { ...good, models: Array.from({ length: MAX_ENDPOINT_MODELS + 1 }, (_, i) => ({ model: `m${i}` })) }, ['BAD_USER_INPUT', 'models']],
    ['a model twice', { ...good, models: [{ model: 'a' }, { model: 'a' }] }, ['BAD_USER_INPUT', 'models']],
    ['an empty model id', { ...good, models: [{ model: ' ' }] }, ['BAD_USER_INPUT', 'models.model']],
    ['an upstream name with NUL', { ...good, models: [{ model: 'a', upstreamModel: 'x\u0000' }] }, ['BAD_USER_INPUT', 'models.upstreamModel']],
  ])('%s', (_name, input, expected) => {
    const r = refusal(() => parseCreateEndpoint(SELLER, input as never, PUBLIC));
    expect(r && r.slice(0, 2)).toEqual(expected);
  });

  it('normalises: trimmed URL without a trailing slash, lower-case listing id, upstream name defaulted', () => {
    expect(
      parseCreateEndpoint(SELLER, { listingId: LISTING.toUpperCase(), baseUrl: ' https://llm.example.com/v1/ ', models: [{ model: 'a' }, { model: 'b', upstreamModel: 'B-1' }] }, PUBLIC),
    ).toEqual({
      sellerId: SELLER,
      listingId: LISTING,
      baseUrl: 'https://llm.example.com/v1',
      apiKey: null,
      models: [
        { model: 'a', upstreamModel: 'a' },
        { model: 'b', upstreamModel: 'B-1' },
      ],
    });
  });

  it('a private address is accepted when the deployment allows it', () => {
    expect(parseCreateEndpoint(SELLER, { ...good, baseUrl: 'http://127.0.0.1:8000' }, { allowPrivateUrls: true }).baseUrl).toBe('http://127.0.0.1:8000');
  });
});

describe('parseSetEndpointEnabled', () => {
  it.each<[string, unknown, unknown, [string, unknown] | null]>([
    ['on', LISTING, true, null],
    ['off', LISTING, false, null],
    ['enabled not a boolean', LISTING, 'yes', ['BAD_USER_INPUT', 'enabled']],
    ['enabled is judged before the id', 'x', 'yes', ['BAD_USER_INPUT', 'enabled']],
    ['a malformed id', 'x', true, ['NOT_FOUND', undefined]],
  ])('%s', (_name, id, enabled, expected) => {
    const r = refusal(() => parseSetEndpointEnabled(id, enabled));
    expect(r && r.slice(0, 2)).toEqual(expected);
  });
});
