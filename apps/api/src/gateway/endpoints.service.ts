import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { BadInputError, InvalidStateError, NotFoundError } from '@ccx/core';
import { withTransaction } from '@ccx/ledger';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { ClockService } from '../clock/clock.service.js';
import { newId, parseId } from '../common/ids.js';
import { hasUnstorableCharacters, textInput } from '../common/amounts.js';
import type { Principal } from '../auth/principal.js';
import { assertPublicUrl } from '../net/index.js';
import { EndpointStore, type EndpointRow } from './endpoint-store.js';
import { SecretBox } from './secret-box.js';

export interface CreateEndpointCommand {
  sellerId: string;
  listingId: unknown;
  baseUrl: unknown;
  apiKey?: unknown;
  models: unknown;
}

const MAX_MODELS = 100;

/** Sellers' inference endpoints (SPEC §12 "Supply"). */
@Injectable()
export class EndpointsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly store: EndpointStore,
    private readonly secrets: SecretBox,
    private readonly clock: ClockService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async create(cmd: CreateEndpointCommand): Promise<EndpointRow> {
    const listingId = parseId(cmd.listingId, 'listing');
    if (typeof cmd.baseUrl !== 'string') throw new BadInputError('baseUrl must be a URL', { field: 'baseUrl' });
    const baseUrl = assertPublicUrl(cmd.baseUrl.trim(), { allowPrivate: this.config.allowPrivateUrls, field: 'baseUrl' }).toString().replace(/\/+$/, '');
    let apiKey: string | null = null;
    if (cmd.apiKey !== undefined && cmd.apiKey !== null) {
      if (typeof cmd.apiKey !== 'string' || cmd.apiKey.length < 1 || cmd.apiKey.length > 1000 || /[\r\n\0]/.test(cmd.apiKey)) {
        throw new BadInputError('apiKey must be 1 to 1000 characters on one line', { field: 'apiKey' });
      }
      apiKey = cmd.apiKey;
    }
    const models = this.parseModels(cmd.models);
    const id = newId();
    await withTransaction(this.dataSource, async (manager) => {
      const [listing] = await manager.query(`SELECT seller_id, status, available_until FROM listings WHERE id = $1 FOR SHARE`, [listingId]);
      if (!listing || listing.seller_id !== cmd.sellerId) throw new NotFoundError(`listing ${listingId} not found`, { field: 'listingId' });
      if (listing.status === 'WITHDRAWN' || listing.status === 'EXPIRED' || new Date(listing.available_until) <= this.clock.now()) {
        throw new InvalidStateError(`the listing is ${listing.status === 'OPEN' ? 'EXPIRED' : listing.status}: it can no longer serve`);
      }
      const known: { id: string }[] = await manager.query(`SELECT id FROM models WHERE id = ANY($1::text[])`, [models.map((m) => m.model)]);
      const missing = models.find((m) => !known.some((k) => k.id === m.model));
      if (missing) throw new NotFoundError(`model ${missing.model} is not in the catalog`, { field: 'models' });
      await this.store.insert(
        manager,
        {
          id,
          listingId,
          sellerId: cmd.sellerId,
          baseUrl,
          apiKeySealed: apiKey === null ? null : this.secrets.seal(apiKey),
          apiKeyLastFour: apiKey === null ? null : apiKey.slice(-4),
          createdAt: this.clock.now(),
        },
        models,
      );
    });
    // Committed: routing in this process sees the new endpoint at once (others within the cache's moment).
    this.store.invalidate();
    return (await this.store.get(id))!;
  }

  /** A seller turns its own endpoint on or off; the operator any endpoint. */
  async setEnabled(principal: Principal, idRaw: unknown, enabled: unknown): Promise<EndpointRow> {
    if (typeof enabled !== 'boolean') throw new BadInputError('enabled must be true or false', { field: 'enabled' });
    const endpoint = await this.visible(principal, idRaw);
    await this.store.setEnabled(endpoint.id, enabled);
    return (await this.store.get(endpoint.id))!;
  }

  list(principal: Principal): Promise<EndpointRow[]> {
    return this.store.list(principal.role === 'OPERATOR' ? null : principal.organizationId);
  }

  private async visible(principal: Principal, idRaw: unknown): Promise<EndpointRow> {
    const id = parseId(idRaw, 'inference endpoint');
    const endpoint = await this.store.get(id);
    // Another seller's endpoint is not found: its existence is not revealed.
    if (!endpoint || (principal.role !== 'OPERATOR' && endpoint.sellerId !== principal.organizationId)) {
      throw new NotFoundError(`inference endpoint ${id} not found`);
    }
    return endpoint;
  }

  private parseModels(raw: unknown): { model: string; upstreamModel: string }[] {
    if (!Array.isArray(raw) || raw.length < 1 || raw.length > MAX_MODELS) {
      throw new BadInputError(`models must list 1 to ${MAX_MODELS} catalog models`, { field: 'models' });
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
}
