import { BadInputError, Decimal } from '@ccx/core';

/** An eligible endpoint serving a model, with what routing orders by (SPEC §12). */
export interface Candidate {
  endpointId: string;
  /** The catalog model this candidate serves the request as. */
  model: string;
  upstreamModel: string;
  listingId: string;
  sellerId: string;
  wholesaleCostPerCredit: Decimal;
  /** allocatedCredits − servedCredits of its listing: capacity sold and not yet served. */
  owed: Decimal;
  /** Failures ÷ attempts over the last minute (0 with no attempts). A ratio, never money. */
  errorRate: number;
  /** Creation order of the endpoint: the oldest wins the last tie. */
  seq: bigint;
  circuit: 'closed' | 'probe' | 'open';
}

/** OpenRouter's `provider` object, by endpoint id. */
export interface ProviderPreferences {
  order: string[];
  only: string[] | null;
  ignore: string[];
  allowFallbacks: boolean;
}

export const NO_PREFERENCES: ProviderPreferences = { order: [], only: null, ignore: [], allowFallbacks: true };

/**
 * SPEC §12 order: listings that still owe at least the request's hold first, then the lowest
 * wholesale cost per credit, then the lowest recent error rate, then the oldest endpoint.
 */
export function compareCandidates(hold: Decimal) {
  return (a: Candidate, b: Candidate): number => {
    const owesA = a.owed.gte(hold) ? 0 : 1;
    const owesB = b.owed.gte(hold) ? 0 : 1;
    if (owesA !== owesB) return owesA - owesB;
    const cost = a.wholesaleCostPerCredit.comparedTo(b.wholesaleCostPerCredit) ?? 0;
    if (cost !== 0) return cost;
    if (a.errorRate !== b.errorRate) return a.errorRate - b.errorRate;
    return a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0;
  };
}

/**
 * The attempt order of a request: for each model in turn (the requested one, then `models`
 * fallbacks), its usable candidates in SPEC order, narrowed and reordered by the preferences.
 * Open circuits are left out. `allowFallbacks: false` keeps only the endpoints named in `order`
 * (or `only`) and only the first model.
 */
export function routeFor<C extends Candidate>(candidatesByModel: Map<string, C[]>, models: string[], prefs: ProviderPreferences, hold: Decimal): C[] {
  const route: C[] = [];
  const seen = new Set<string>();
  for (const [i, model] of models.entries()) {
    if (i > 0 && !prefs.allowFallbacks) break;
    let list = (candidatesByModel.get(model) ?? []).filter((c) => c.circuit !== 'open');
    if (prefs.only) list = list.filter((c) => prefs.only!.includes(c.endpointId));
    list = list.filter((c) => !prefs.ignore.includes(c.endpointId));
    list.sort(compareCandidates(hold));
    if (prefs.order.length) {
      const named = prefs.order.flatMap((id) => list.filter((c) => c.endpointId === id));
      const rest = list.filter((c) => !prefs.order.includes(c.endpointId));
      list = prefs.allowFallbacks ? [...named, ...rest] : named;
    }
    for (const c of list) {
      const key = `${c.endpointId}|${c.model}`;
      if (!seen.has(key)) route.push(c);
      seen.add(key);
    }
  }
  return route;
}

const ID_LIST_MAX = 50;

function idList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length > ID_LIST_MAX || value.some((v) => typeof v !== 'string' || v.length > 100)) {
    throw new BadInputError(`provider.${field} must be a list of at most ${ID_LIST_MAX} endpoint ids`, { param: `provider.${field}` });
  }
  return (value as string[]).map((v) => v.toLowerCase());
}

/** Reads OpenRouter's `provider` object; unknown keys inside it are ignored, as OpenRouter does. */
export function parseProviderPreferences(raw: unknown): ProviderPreferences {
  if (raw === undefined || raw === null) return NO_PREFERENCES;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new BadInputError('provider must be an object', { param: 'provider' });
  const p = raw as Record<string, unknown>;
  if (p.allow_fallbacks !== undefined && typeof p.allow_fallbacks !== 'boolean') {
    throw new BadInputError('provider.allow_fallbacks must be true or false', { param: 'provider.allow_fallbacks' });
  }
  return {
    order: p.order === undefined ? [] : idList(p.order, 'order'),
    only: p.only === undefined ? null : idList(p.only, 'only'),
    ignore: p.ignore === undefined ? [] : idList(p.ignore, 'ignore'),
    allowFallbacks: p.allow_fallbacks !== false,
  };
}

/** When to move on to the next candidate (SPEC §12): 408, 429 and 5xx; any other answer stands. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}
