import { BadInputError } from '@ccx/core';
import { hasUnstorableCharacters, textInput } from '../../common/amounts.js';
import { parseId } from '../../common/ids.js';
import { assertPublicUrl } from '../../net/index.js';

/** A seller attaches an OpenAI-compatible server to one of its listings (SPEC §12 "Supply"). */
export interface CreateEndpointCommand {
  sellerId: string;
  listingId: string;
  /** Public (unless private URLs are allowed), without a trailing slash. */
  baseUrl: string;
  apiKey: string | null;
  models: { model: string; upstreamModel: string }[];
}

export interface SetEndpointEnabledCommand {
  id: string;
  enabled: boolean;
}

export const MAX_ENDPOINT_MODELS = 100;

/**
 * The fields are judged in this order (listing, URL, key, models), so a request with several bad
 * fields is refused for the same one as always. Whether the listing and models exist is the
 * service's to say.
 */
export function parseCreateEndpoint(
  sellerId: string,
  input: { listingId: unknown; baseUrl: unknown; apiKey?: unknown; models: unknown },
  opts: { allowPrivateUrls: boolean },
): CreateEndpointCommand {
  const listingId = parseId(input.listingId, 'listing');
  if (typeof input.baseUrl !== 'string') throw new BadInputError('baseUrl must be a URL', { field: 'baseUrl' });
  const baseUrl = assertPublicUrl(input.baseUrl.trim(), { allowPrivate: opts.allowPrivateUrls, field: 'baseUrl' }).toString().replace(/\/+$/, '');
  let apiKey: string | null = null;
  if (input.apiKey !== undefined && input.apiKey !== null) {
    if (typeof input.apiKey !== 'string' || input.apiKey.length < 1 || input.apiKey.length > 1000 || /[\r\n\0]/.test(input.apiKey)) {
      throw new BadInputError('apiKey must be 1 to 1000 characters on one line', { field: 'apiKey' });
    }
    apiKey = input.apiKey;
  }
  return { sellerId, listingId, baseUrl, apiKey, models: parseEndpointModels(input.models) };
}

/** `enabled` is judged before the id (as always). */
export function parseSetEndpointEnabled(idRaw: unknown, enabled: unknown): SetEndpointEnabledCommand {
  if (typeof enabled !== 'boolean') throw new BadInputError('enabled must be true or false', { field: 'enabled' });
  return { id: parseId(idRaw, 'inference endpoint'), enabled };
}

/** 1 to 100 distinct catalog model ids, each served upstream under its own name unless renamed. */
export function parseEndpointModels(raw: unknown): { model: string; upstreamModel: string }[] {
  if (!Array.isArray(raw) || raw.length < 1 || raw.length > MAX_ENDPOINT_MODELS) {
    throw new BadInputError(`models must list 1 to ${MAX_ENDPOINT_MODELS} catalog models`, { field: 'models' });
  }
  const seen = new Set<string>();
  return raw.map((m: { model?: unknown; upstreamModel?: unknown }) => {
    const model = textInput(m?.model, 'models.model', 100);
    if (seen.has(model)) throw new BadInputError(`model ${model} is listed twice`, { field: 'models' });
    seen.add(model);
    const upstream = m?.upstreamModel === undefined || m?.upstreamModel === null ? model : textInput(m.upstreamModel, 'models.upstreamModel', 200);
    if (hasUnstorableCharacters(upstream)) throw new BadInputError('upstreamModel is not valid text', { field: 'models.upstreamModel' });
    return { model, upstreamModel: upstream };
  });
}
